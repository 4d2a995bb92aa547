package app.patrol.android.sync

import android.Manifest
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Build
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.content.ContextCompat
import app.patrol.android.MainActivity
import app.patrol.android.R
import app.patrol.kit.PatrolRepository
import app.patrol.kit.ffi.Alert
import app.patrol.kit.ffi.AlertKind

/**
 * The signed-in person's alerts as notifications: after each background sync, every open alert
 * not shown before becomes one notification on the "alerts" channel (an urgent report means
 * someone must go now), and the notifications of alerts acknowledged since are taken away.
 *
 * Which alerts were shown is kept per user, so a shared phone does not show the next person
 * what the previous one already saw, nor hide from them what they have not.
 */
object AlertNotifier {
    const val CHANNEL_ID = "alerts"

    /** Set on the intent of a tapped notification: open the alerts screen. */
    const val EXTRA_OPEN_ALERTS = "app.patrol.android.OPEN_ALERTS"

    /** Every alert notification has this id; the alert id is its tag. */
    private const val NOTIFICATION_ID = 2001
    private const val PREFS = "alert-notifications"

    /** Create the channel (doing it again changes nothing the user has set). */
    fun createChannel(context: Context) {
        val channel = NotificationChannel(
            CHANNEL_ID,
            context.getString(R.string.alerts_channel_name),
            NotificationManager.IMPORTANCE_HIGH,
        ).apply {
            description = context.getString(R.string.alerts_channel_description)
            enableVibration(true)
        }
        context.getSystemService(NotificationManager::class.java).createNotificationChannel(channel)
    }

    /** Show the alerts that are new since the last call, and withdraw those no longer open. */
    suspend fun showNew(context: Context, repo: PatrolRepository) {
        val userId: String = repo.session()?.userId ?: return
        val open: List<Alert> = repo.alerts()
        val prefs = context.getSharedPreferences(PREFS, Context.MODE_PRIVATE)
        val key = "shown.$userId"
        val shown: Set<String> = prefs.getStringSet(key, null).orEmpty()
        val manager = NotificationManagerCompat.from(context)
        val openIds: Set<String> = open.map { it.id }.toSet()
        for (gone in shown - openIds) manager.cancel(gone, NOTIFICATION_ID)
        if (!allowed(context)) {
            // Not shown, so not remembered: they appear once the person allows notifications.
            prefs.edit().putStringSet(key, shown intersect openIds).apply()
            return
        }
        // Oldest first, so that the newest ends on top of the shade.
        for (alert in open.filter { it.id !in shown }.sortedBy { it.raisedAt }) {
            manager.notify(alert.id, NOTIFICATION_ID, build(context, alert))
        }
        prefs.edit().putStringSet(key, openIds).apply()
    }

    private fun allowed(context: Context): Boolean =
        Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU ||
            ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) ==
            PackageManager.PERMISSION_GRANTED

    private fun build(context: Context, alert: Alert): android.app.Notification {
        val open = Intent(context, MainActivity::class.java)
            .putExtra(EXTRA_OPEN_ALERTS, true)
            .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK or Intent.FLAG_ACTIVITY_SINGLE_TOP)
        val tap = PendingIntent.getActivity(
            context,
            alert.id.hashCode(),
            open,
            PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_IMMUTABLE,
        )
        // The server writes every alert in both languages; the phone's language comes first.
        val chineseFirst = context.resources.configuration.locales[0].language == "zh"
        val first = if (chineseFirst) alert.textZh else alert.textEn
        val second = if (chineseFirst) alert.textEn else alert.textZh
        return NotificationCompat.Builder(context, CHANNEL_ID)
            .setSmallIcon(R.drawable.ic_stat_alert)
            .setContentTitle(context.getString(kindLabel(alert.kind)))
            .setContentText(first)
            .setStyle(NotificationCompat.BigTextStyle().bigText("$first\n$second"))
            .setCategory(if (alert.kind == AlertKind.URGENT) NotificationCompat.CATEGORY_ALARM else NotificationCompat.CATEGORY_EVENT)
            .setPriority(NotificationCompat.PRIORITY_HIGH)
            .setContentIntent(tap)
            .setAutoCancel(true)
            .build()
    }

    /** The short name of an alert's kind, as the alerts screen shows it too. */
    fun kindLabel(kind: AlertKind): Int = when (kind) {
        AlertKind.URGENT -> R.string.alert_kind_urgent
        AlertKind.MAJOR -> R.string.alert_kind_major
        AlertKind.OVERDUE -> R.string.alert_kind_overdue
        AlertKind.ROUND_MISSED -> R.string.alert_kind_round_missed
        AlertKind.ROUND_INCOMPLETE -> R.string.alert_kind_round_incomplete
    }
}
