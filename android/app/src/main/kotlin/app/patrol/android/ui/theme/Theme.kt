package app.patrol.android.ui.theme

import android.os.Build
import androidx.compose.foundation.isSystemInDarkTheme
import androidx.compose.material3.ColorScheme
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.darkColorScheme
import androidx.compose.material3.dynamicDarkColorScheme
import androidx.compose.material3.dynamicLightColorScheme
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.Composable
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.platform.LocalContext

private val EstateGreen = Color(0xFF1B6B4A)
private val EstateGreenLight = Color(0xFF8ED8B0)
private val Amber = Color(0xFF8A5A00)
private val AmberLight = Color(0xFFFFB95A)

private val LightColors: ColorScheme = lightColorScheme(
    primary = EstateGreen,
    onPrimary = Color.White,
    primaryContainer = Color(0xFFA8F2C9),
    onPrimaryContainer = Color(0xFF002113),
    secondary = Color(0xFF4E6355),
    onSecondary = Color.White,
    secondaryContainer = Color(0xFFD0E8D6),
    onSecondaryContainer = Color(0xFF0B1F14),
    tertiary = Amber,
    onTertiary = Color.White,
    tertiaryContainer = Color(0xFFFFDDB5),
    onTertiaryContainer = Color(0xFF2C1700),
    background = Color(0xFFFBFEFB),
    surface = Color(0xFFFBFEFB),
)

private val DarkColors: ColorScheme = darkColorScheme(
    primary = EstateGreenLight,
    onPrimary = Color(0xFF003823),
    primaryContainer = Color(0xFF005235),
    onPrimaryContainer = Color(0xFFA8F2C9),
    secondary = Color(0xFFB4CCBB),
    onSecondary = Color(0xFF203528),
    secondaryContainer = Color(0xFF364B3E),
    onSecondaryContainer = Color(0xFFD0E8D6),
    tertiary = AmberLight,
    onTertiary = Color(0xFF4A2800),
    tertiaryContainer = Color(0xFF693C00),
    onTertiaryContainer = Color(0xFFFFDDB5),
)

/** Colours of an issue's SLA state, the same in light and dark. */
object SlaColors {
    val onTrack = Color(0xFFCDEBD8)
    val onOnTrack = Color(0xFF0B3A24)
    val dueSoon = Color(0xFFFFE08A)
    val onDueSoon = Color(0xFF3D2E00)
    val overdue = Color(0xFFFFDAD6)
    val onOverdue = Color(0xFF690005)
}

@Composable
fun PatrolTheme(
    darkTheme: Boolean = isSystemInDarkTheme(),
    dynamicColor: Boolean = false,
    content: @Composable () -> Unit,
) {
    val colorScheme = when {
        dynamicColor && Build.VERSION.SDK_INT >= Build.VERSION_CODES.S -> {
            val context = LocalContext.current
            if (darkTheme) dynamicDarkColorScheme(context) else dynamicLightColorScheme(context)
        }
        darkTheme -> DarkColors
        else -> LightColors
    }
    MaterialTheme(colorScheme = colorScheme, content = content)
}
