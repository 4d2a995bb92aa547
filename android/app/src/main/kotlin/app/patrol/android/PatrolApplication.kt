package app.patrol.android

import android.app.Application
import app.patrol.android.sync.AlertNotifier
import app.patrol.android.sync.SyncScheduler
import app.patrol.kit.PatrolRepository
import java.io.File
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.asSharedFlow

/**
 * Holds the phone's one [PatrolRepository] (its database and photos live in the app's private
 * files) and keeps background sync scheduled.
 */
class PatrolApplication : Application() {

    /** The engine the screens and the sync worker share. */
    lateinit var repository: PatrolRepository
        private set

    /** Checklists of visits opened by a scan, until their screen has taken them. */
    val visits: VisitCache = VisitCache()

    private val signedOutEvents = MutableSharedFlow<String>(extraBufferCapacity = 1)

    /** The server no longer knows this phone's sign-in: the sentence to show on the sign-in screen. */
    val signedOut: SharedFlow<String> = signedOutEvents.asSharedFlow()

    override fun onCreate() {
        super.onCreate()
        repository = PatrolRepository.open(File(filesDir, "patrol"), BuildConfig.SERVER_URL)
        AlertNotifier.createChannel(this)
        SyncScheduler.schedulePeriodic(this)
    }

    /** Tell the screens to ask for the password again. */
    fun reportSignedOut(message: String) {
        signedOutEvents.tryEmit(message)
    }
}
