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
import app.patrol.kit.ffi.ChecklistMethod
import app.patrol.kit.ffi.IssueCategory
import app.patrol.kit.ffi.IssueStatus
import app.patrol.kit.ffi.Role
import app.patrol.kit.ffi.Severity
import app.patrol.kit.ffi.SlaState
import app.patrol.kit.ffi.Team
import java.time.LocalDate
import java.time.OffsetDateTime
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.DateTimeParseException

/** Issue categories, in the order the report form offers them. */
val CATEGORIES: List<IssueCategory> = listOf(
    IssueCategory.FACILITY,
    IssueCategory.CLEANING,
    IssueCategory.LANDSCAPING,
    IssueCategory.SECURITY,
    IssueCategory.FIRE,
    IssueCategory.RENOVATION,
    IssueCategory.RESIDENT_VIOLATION,
    IssueCategory.STAFF,
)

/** Severities, mildest first. */
val SEVERITIES: List<Severity> = listOf(Severity.ROUTINE, Severity.MAJOR, Severity.URGENT)

@Composable
fun statusLabel(status: IssueStatus): String = when (status) {
    IssueStatus.OPEN -> stringResource(R.string.status_open)
    IssueStatus.ASSIGNED -> stringResource(R.string.status_assigned)
    IssueStatus.IN_PROGRESS -> stringResource(R.string.status_in_progress)
    IssueStatus.RESOLVED -> stringResource(R.string.status_resolved)
    IssueStatus.CLOSED -> stringResource(R.string.status_closed)
}

@Composable
fun categoryLabel(category: IssueCategory): String = when (category) {
    IssueCategory.FACILITY -> stringResource(R.string.category_facility)
    IssueCategory.CLEANING -> stringResource(R.string.category_cleaning)
    IssueCategory.LANDSCAPING -> stringResource(R.string.category_landscaping)
    IssueCategory.SECURITY -> stringResource(R.string.category_security)
    IssueCategory.FIRE -> stringResource(R.string.category_fire)
    IssueCategory.RENOVATION -> stringResource(R.string.category_renovation)
    IssueCategory.RESIDENT_VIOLATION -> stringResource(R.string.category_resident_violation)
    IssueCategory.STAFF -> stringResource(R.string.category_staff)
}

@Composable
fun severityLabel(severity: Severity): String = when (severity) {
    Severity.ROUTINE -> stringResource(R.string.severity_routine)
    Severity.MAJOR -> stringResource(R.string.severity_major)
    Severity.URGENT -> stringResource(R.string.severity_urgent)
}

@Composable
fun teamLabel(team: Team): String = when (team) {
    Team.ENGINEERING -> stringResource(R.string.team_engineering)
    Team.CLEANING -> stringResource(R.string.team_cleaning)
    Team.LANDSCAPING -> stringResource(R.string.team_landscaping)
    Team.SECURITY -> stringResource(R.string.team_security)
    Team.CUSTOMER_SERVICE -> stringResource(R.string.team_customer_service)
    Team.MANAGEMENT -> stringResource(R.string.team_management)
}

@Composable
fun roleLabel(role: Role): String = when (role) {
    Role.PATROL -> stringResource(R.string.role_patrol)
    Role.TECHNICIAN -> stringResource(R.string.role_technician)
    Role.SUPERVISOR -> stringResource(R.string.role_supervisor)
    Role.MANAGER -> stringResource(R.string.role_manager)
    Role.ADMIN -> stringResource(R.string.role_admin)
}

/** How a checkpoint's item is checked: look, listen, touch or ask. */
@Composable
fun methodLabel(method: ChecklistMethod): String = when (method) {
    ChecklistMethod.LOOK -> stringResource(R.string.method_look)
    ChecklistMethod.LISTEN -> stringResource(R.string.method_listen)
    ChecklistMethod.TOUCH -> stringResource(R.string.method_touch)
    ChecklistMethod.ASK -> stringResource(R.string.method_ask)
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
fun SlaTag(sla: SlaState?, modifier: Modifier = Modifier) {
    when (sla) {
        SlaState.ON_TRACK -> Tag(stringResource(R.string.sla_on_track), SlaColors.onTrack, SlaColors.onOnTrack, modifier)
        SlaState.DUE_SOON -> Tag(stringResource(R.string.sla_due_soon), SlaColors.dueSoon, SlaColors.onDueSoon, modifier)
        SlaState.OVERDUE -> Tag(stringResource(R.string.sla_overdue), SlaColors.overdue, SlaColors.onOverdue, modifier)
        null -> Unit
    }
}

@Composable
fun StatusTag(status: IssueStatus, modifier: Modifier = Modifier) {
    Tag(
        text = statusLabel(status),
        container = MaterialTheme.colorScheme.secondaryContainer,
        content = MaterialTheme.colorScheme.onSecondaryContainer,
        modifier = modifier,
    )
}

@Composable
fun SeverityTag(severity: Severity, modifier: Modifier = Modifier) {
    val (container, content) = when (severity) {
        Severity.URGENT -> MaterialTheme.colorScheme.error to MaterialTheme.colorScheme.onError
        Severity.MAJOR -> MaterialTheme.colorScheme.tertiaryContainer to MaterialTheme.colorScheme.onTertiaryContainer
        Severity.ROUTINE -> MaterialTheme.colorScheme.surfaceVariant to MaterialTheme.colorScheme.onSurfaceVariant
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
