package app.patrol.android.ui.components

import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.res.booleanResource
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import app.patrol.android.R
import app.patrol.android.ui.theme.SlaColors
import app.patrol.kit.ffi.ChecklistItem
import java.time.LocalDate
import java.time.OffsetDateTime
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.DateTimeParseException

/** Wire names of issue categories, in the order the report form offers them. */
val CATEGORIES: List<String> = listOf(
    "facility",
    "cleaning",
    "landscaping",
    "security",
    "fire",
    "renovation",
    "resident_violation",
    "staff",
)

/** Wire names of severities, mildest first. */
val SEVERITIES: List<String> = listOf("routine", "major", "urgent")

@Composable
fun statusLabel(status: String): String = when (status) {
    "open" -> stringResource(R.string.status_open)
    "assigned" -> stringResource(R.string.status_assigned)
    "in_progress" -> stringResource(R.string.status_in_progress)
    "resolved" -> stringResource(R.string.status_resolved)
    "closed" -> stringResource(R.string.status_closed)
    else -> status
}

@Composable
fun categoryLabel(category: String): String = when (category) {
    "facility" -> stringResource(R.string.category_facility)
    "cleaning" -> stringResource(R.string.category_cleaning)
    "landscaping" -> stringResource(R.string.category_landscaping)
    "security" -> stringResource(R.string.category_security)
    "fire" -> stringResource(R.string.category_fire)
    "renovation" -> stringResource(R.string.category_renovation)
    "resident_violation" -> stringResource(R.string.category_resident_violation)
    "staff" -> stringResource(R.string.category_staff)
    else -> category
}

@Composable
fun severityLabel(severity: String): String = when (severity) {
    "routine" -> stringResource(R.string.severity_routine)
    "major" -> stringResource(R.string.severity_major)
    "urgent" -> stringResource(R.string.severity_urgent)
    else -> severity
}

@Composable
fun teamLabel(team: String): String = when (team) {
    "engineering" -> stringResource(R.string.team_engineering)
    "cleaning" -> stringResource(R.string.team_cleaning)
    "landscaping" -> stringResource(R.string.team_landscaping)
    "security" -> stringResource(R.string.team_security)
    "customer_service" -> stringResource(R.string.team_customer_service)
    "management" -> stringResource(R.string.team_management)
    else -> team
}

@Composable
fun roleLabel(role: String): String = when (role) {
    "patrol" -> stringResource(R.string.role_patrol)
    "technician" -> stringResource(R.string.role_technician)
    "supervisor" -> stringResource(R.string.role_supervisor)
    "manager" -> stringResource(R.string.role_manager)
    "admin" -> stringResource(R.string.role_admin)
    else -> role
}

/** How a checkpoint's item is checked: look, listen, touch or ask. */
@Composable
fun methodLabel(method: String): String? = when (method) {
    "look" -> stringResource(R.string.method_look)
    "listen" -> stringResource(R.string.method_listen)
    "touch" -> stringResource(R.string.method_touch)
    "ask" -> stringResource(R.string.method_ask)
    else -> null
}

/** The item's question in the app's language (Chinese unless the phone is in English). */
@Composable
fun itemText(item: ChecklistItem): String {
    val chinese = booleanResource(R.bool.prefer_chinese)
    return if (chinese || item.textEn.isBlank()) item.textZh else item.textEn
}

/** A small coloured label. */
@Composable
fun Tag(text: String, container: Color, content: Color, modifier: Modifier = Modifier) {
    Surface(
        modifier = modifier,
        shape = RoundedCornerShape(6.dp),
        color = container,
        contentColor = content,
    ) {
        Text(
            text = text,
            modifier = Modifier.padding(horizontal = 8.dp, vertical = 2.dp),
            style = MaterialTheme.typography.labelMedium,
        )
    }
}

/** An issue's SLA state: on track, due soon, overdue; nothing once closed. */
@Composable
fun SlaTag(sla: String?, modifier: Modifier = Modifier) {
    when (sla) {
        "on_track" -> Tag(stringResource(R.string.sla_on_track), SlaColors.onTrack, SlaColors.onOnTrack, modifier)
        "due_soon" -> Tag(stringResource(R.string.sla_due_soon), SlaColors.dueSoon, SlaColors.onDueSoon, modifier)
        "overdue" -> Tag(stringResource(R.string.sla_overdue), SlaColors.overdue, SlaColors.onOverdue, modifier)
        else -> Unit
    }
}

@Composable
fun StatusTag(status: String, modifier: Modifier = Modifier) {
    Tag(
        text = statusLabel(status),
        container = MaterialTheme.colorScheme.secondaryContainer,
        content = MaterialTheme.colorScheme.onSecondaryContainer,
        modifier = modifier,
    )
}

@Composable
fun SeverityTag(severity: String, modifier: Modifier = Modifier) {
    val (container, content) = when (severity) {
        "urgent" -> MaterialTheme.colorScheme.error to MaterialTheme.colorScheme.onError
        "major" -> MaterialTheme.colorScheme.tertiaryContainer to MaterialTheme.colorScheme.onTertiaryContainer
        else -> MaterialTheme.colorScheme.surfaceVariant to MaterialTheme.colorScheme.onSurfaceVariant
    }
    Tag(severityLabel(severity), container, content, modifier)
}

private val timeOfDay: DateTimeFormatter = DateTimeFormatter.ofPattern("HH:mm")
private val dayAndTime: DateTimeFormatter = DateTimeFormatter.ofPattern("MM-dd HH:mm")

/** An RFC 3339 time as the phone's local "HH:mm" today, "MM-dd HH:mm" on other days. */
fun formatDateTime(rfc3339: String): String = try {
    val local = OffsetDateTime.parse(rfc3339).atZoneSameInstant(ZoneId.systemDefault())
    if (local.toLocalDate() == LocalDate.now()) local.format(timeOfDay) else local.format(dayAndTime)
} catch (e: DateTimeParseException) {
    rfc3339
}

/** A schedule time "09:00:00" as "09:00". */
fun formatClock(time: String): String = if (time.length >= 5 && time[2] == ':') time.take(5) else time

/** Epoch milliseconds as the phone's local "MM-dd HH:mm". */
fun formatMillis(millis: Long): String =
    java.time.Instant.ofEpochMilli(millis).atZone(ZoneId.systemDefault()).format(dayAndTime)
