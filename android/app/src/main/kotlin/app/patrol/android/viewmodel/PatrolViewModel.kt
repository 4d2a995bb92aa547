package app.patrol.android.viewmodel

import android.app.Application
import androidx.annotation.StringRes
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import app.patrol.android.PatrolApplication
import app.patrol.android.R
import app.patrol.android.sync.SyncScheduler
import app.patrol.kit.PatrolRepository
import app.patrol.kit.ffi.PatrolException
import java.io.File
import java.io.IOException
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** What every screen's view model shares: the repository, error sentences, background sync. */
abstract class PatrolViewModel(application: Application) : AndroidViewModel(application) {

    protected val patrolApp: PatrolApplication
        get() = getApplication()

    protected val repo: PatrolRepository
        get() = patrolApp.repository

    protected fun text(@StringRes id: Int): String = patrolApp.getString(id)

    /**
     * The sentence to show for a failure: the engine's own (Chinese / English) for a
     * [PatrolException], ours otherwise. A lost sign-in also sends the user back to sign in.
     */
    protected fun describe(error: Throwable): String {
        if (error is PatrolException.SignedOut) patrolApp.reportSignedOut(error.message.orEmpty())
        val message = error.message
        return when {
            error is PatrolException && !message.isNullOrBlank() -> message
            error is IOException -> text(R.string.error_photo_read)
            else -> text(R.string.error_unexpected)
        }
    }

    /**
     * Run [block] on [viewModelScope]; a failure (never a cancellation) becomes [onError]'s
     * sentence.
     */
    protected fun launchCatching(
        onError: (String) -> Unit,
        block: suspend CoroutineScope.() -> Unit,
    ): Job = viewModelScope.launch {
        try {
            block()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            onError(describe(e))
        }
    }

    /** Keep a picture the camera app wrote, then delete the camera's file; returns the photo id. */
    protected suspend fun keepPhoto(file: File): String {
        try {
            val bytes = withContext(Dispatchers.IO) { file.readBytes() }
            return repo.addPhoto(bytes)
        } finally {
            file.delete()
        }
    }

    /** New work is queued: send it as soon as the network allows. */
    protected fun syncSoon() {
        SyncScheduler.syncSoon(patrolApp)
    }
}
