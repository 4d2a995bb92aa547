package app.patrol.android.sync

import android.app.NotificationChannel
import android.app.NotificationManager
import android.content.Context
import android.util.Log
import androidx.core.app.NotificationCompat
import androidx.work.CoroutineWorker
import androidx.work.ForegroundInfo
import androidx.work.WorkerParameters
import app.patrol.android.PatrolApplication
import app.patrol.android.R
import app.patrol.kit.PatrolRepository
import app.patrol.kit.ffi.PatrolException

/**
 * Sends the phone's queued work and photos and receives what changed. A network failure (or a
 * sync stopped half-way) is retried with exponential backoff; whatever finished stays done.
 */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {

    override suspend fun doWork(): Result {
        val app = applicationContext as PatrolApplication
        val repo: PatrolRepository = app.repository
        return try {
            // Signed out: nothing to send for anyone until someone signs in again.
            if (repo.session() == null) {
                Result.success()
            } else {
                repo.sync()
                showAlerts(repo)
                Result.success()
            }
        } catch (e: PatrolException.Network) {
            Result.retry()
        } catch (e: PatrolException.Cancelled) {
            Result.retry()
        } catch (e: PatrolException.SignedOut) {
            app.reportSignedOut(e.message.orEmpty())
            Result.failure()
        } catch (e: PatrolException) {
            // Refused or broken: retrying will not help; the sync screen shows the reason.
            Result.failure()
        }
    }

    /** New alerts as notifications; failing to show them does not make the sync fail. */
    private suspend fun showAlerts(repo: PatrolRepository) {
        try {
            AlertNotifier.showNew(applicationContext, repo)
        } catch (e: PatrolException) {
            Log.w(TAG, "alerts not shown: ${e.message}")
        }
    }

    /** Before Android 12 an expedited sync runs as a short foreground job and needs this. */
    override suspend fun getForegroundInfo(): ForegroundInfo {
        val context = applicationContext
        val manager = context.getSystemService(NotificationManager::class.java)
        manager.createNotificationChannel(
            NotificationChannel(
                CHANNEL_ID,
                context.getString(R.string.sync_channel_name),
                NotificationManager.IMPORTANCE_LOW,
            ),
        )
        val notification = NotificationCompat.Builder(context, CHANNEL_ID)
            .setSmallIcon(R.drawable.ic_stat_sync)
            .setContentTitle(context.getString(R.string.sync_notification_title))
            .setOngoing(true)
            .setSilent(true)
            .build()
        return ForegroundInfo(NOTIFICATION_ID, notification)
    }

    private companion object {
        const val CHANNEL_ID = "sync"
        const val NOTIFICATION_ID = 1001
        const val TAG = "SyncWorker"
    }
}
