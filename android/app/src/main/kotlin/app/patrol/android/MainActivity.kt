package app.patrol.android

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Build
import android.os.Bundle
import android.widget.Toast
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.activity.result.ActivityResultLauncher
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.runtime.getValue
import androidx.compose.runtime.key
import androidx.compose.runtime.mutableStateOf
import androidx.core.content.ContextCompat
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import app.patrol.android.sync.AlertNotifier
import app.patrol.android.ui.PatrolNavHost
import app.patrol.android.ui.components.LoadingState
import app.patrol.android.ui.screens.SignInScreen
import app.patrol.android.ui.theme.PatrolTheme
import app.patrol.android.viewmodel.SessionState
import app.patrol.android.viewmodel.SessionViewModel

/** The one activity: sign-in, then the screens of the signed-in user's role. */
class MainActivity : ComponentActivity() {

    /** A tapped alert notification asks for the alerts screen. */
    private val openAlerts = mutableStateOf(false)

    private val notificationPermission: ActivityResultLauncher<String> =
        registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
            if (!granted) Toast.makeText(this, R.string.alerts_permission_denied, Toast.LENGTH_LONG).show()
        }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        enableEdgeToEdge()
        openAlerts.value = intent.getBooleanExtra(AlertNotifier.EXTRA_OPEN_ALERTS, false)
        askForNotifications()
        setContent {
            PatrolTheme {
                Surface(modifier = Modifier.fillMaxSize(), color = MaterialTheme.colorScheme.background) {
                    val sessionViewModel: SessionViewModel = viewModel()
                    val state: SessionState by sessionViewModel.state.collectAsStateWithLifecycle()
                    when (val current = state) {
                        SessionState.Checking -> LoadingState(label = stringResource(R.string.starting))
                        is SessionState.SignedOut -> SignInScreen(viewModel = sessionViewModel, notice = current.notice)
                        // A new navigation graph for each user, starting at their role's main screen.
                        is SessionState.SignedIn -> key(current.session.userId) {
                            PatrolNavHost(
                                session = current.session,
                                onSignOut = sessionViewModel::signOut,
                                openAlerts = openAlerts.value,
                                onAlertsOpened = { openAlerts.value = false },
                            )
                        }
                    }
                }
            }
        }
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        if (intent.getBooleanExtra(AlertNotifier.EXTRA_OPEN_ALERTS, false)) openAlerts.value = true
    }

    /** Android 13 and later ask once whether the app may show alerts as notifications. */
    private fun askForNotifications() {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) return
        val permission = Manifest.permission.POST_NOTIFICATIONS
        if (ContextCompat.checkSelfPermission(this, permission) == PackageManager.PERMISSION_GRANTED) return
        notificationPermission.launch(permission)
    }
}
