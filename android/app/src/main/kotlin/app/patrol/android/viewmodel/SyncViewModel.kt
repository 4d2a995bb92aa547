package app.patrol.android.viewmodel

import android.app.Application
import androidx.lifecycle.viewModelScope
import app.patrol.kit.SyncState
import app.patrol.kit.ffi.PatrolException
import app.patrol.kit.ffi.Pending
import app.patrol.kit.ffi.Rejection
import app.patrol.kit.ffi.Session
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

data class SyncUiState(
    val loading: Boolean = true,
    val session: Session? = null,
    val pending: Pending? = null,
    val rejections: List<Rejection> = emptyList(),
    val error: String? = null,
    val message: String? = null,
)

/** What waits for the server, what it refused, and syncing by hand. */
class SyncViewModel(application: Application) : PatrolViewModel(application) {

    private val _state = MutableStateFlow(SyncUiState())
    val state: StateFlow<SyncUiState> = _state.asStateFlow()

    /** The current or last sync, this screen's or the background one's. */
    val syncState: StateFlow<SyncState> = repo.syncState

    private var syncJob: Job? = null

    init {
        load()
        viewModelScope.launch {
            // A sync that ends changes what is pending and may bring refusals.
            syncState.collect { state ->
                if (state is SyncState.Done || state is SyncState.Failed) load()
            }
        }
    }

    fun load() {
        launchCatching(onError = { message -> _state.update { it.copy(loading = false, error = message) } }) {
            val session: Session? = repo.session()
            val pending: Pending = repo.pending()
            val rejections: List<Rejection> = repo.rejections()
            _state.update {
                it.copy(loading = false, session = session, pending = pending, rejections = rejections, error = null)
            }
        }
    }

    fun syncNow() {
        if (syncJob?.isActive == true || syncState.value is SyncState.Running) return
        syncJob = viewModelScope.launch {
            try {
                repo.sync()
            } catch (e: CancellationException) {
                throw e
            } catch (e: PatrolException) {
                // The failure is in syncState for the screen; a lost sign-in goes back to sign in.
                if (e is PatrolException.SignedOut) describe(e)
            }
        }
    }

    /** Stop the running sync at its next step, whoever started it; what finished stays done. */
    fun cancel() {
        repo.cancelSync()
        syncJob?.cancel()
    }

    fun dismiss(rejection: Rejection) {
        launchCatching(onError = { message -> _state.update { it.copy(message = message) } }) {
            repo.dismissRejection(rejection.seq)
            _state.update { state -> state.copy(rejections = state.rejections.filterNot { it.seq == rejection.seq }) }
            val pending: Pending = repo.pending()
            _state.update { it.copy(pending = pending) }
        }
    }

    fun messageShown() = _state.update { it.copy(message = null) }
}
