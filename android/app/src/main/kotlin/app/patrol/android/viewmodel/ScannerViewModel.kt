package app.patrol.android.viewmodel

import android.app.Application
import androidx.lifecycle.SavedStateHandle
import androidx.lifecycle.viewModelScope
import app.patrol.kit.ffi.PatrolException
import app.patrol.kit.ffi.Scan
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.launch

/** Where the scanner is. */
sealed interface ScannerState {
    /** Looking for a label. */
    data object Ready : ScannerState

    /** A code was read and is being checked by the engine. */
    data object Checking : ScannerState

    /**
     * The code was refused: [isLabelError] for a code that is not a good label of this site
     * (forged, damaged, another estate's), otherwise the round's rules said no.
     */
    data class Rejected(val message: String, val isLabelError: Boolean) : ScannerState
}

/** Reads checkpoint labels for one round and opens the checklist of each visit. */
class ScannerViewModel(
    application: Application,
    savedStateHandle: SavedStateHandle,
) : PatrolViewModel(application) {

    private val runId: String = checkNotNull(savedStateHandle.get<String>(RoundViewModel.ARG_RUN_ID)) { "scanner without a round" }

    private val _state = MutableStateFlow<ScannerState>(ScannerState.Ready)
    val state: StateFlow<ScannerState> = _state.asStateFlow()

    private val _visits = Channel<String>(Channel.BUFFERED)

    /** Visits (ids) whose checklist is to be opened. */
    val visitsToOpen: Flow<String> = _visits.receiveAsFlow()

    /** The code last refused, and when: the camera still sees it for a moment after "scan again". */
    private var refusedToken: String? = null
    private var refusedAtMillis: Long = 0L

    /** The camera read [token]; ignored unless the scanner is waiting for a label. */
    fun onCode(token: String) {
        if (_state.value != ScannerState.Ready) return
        if (token == refusedToken && System.currentTimeMillis() - refusedAtMillis < REFUSED_QUIET_MILLIS) return
        _state.value = ScannerState.Checking
        viewModelScope.launch {
            try {
                val scan: Scan = repo.scan(runId, token)
                patrolApp.visits.put(scan)
                _visits.send(scan.visitId)
            } catch (e: CancellationException) {
                throw e
            } catch (e: PatrolException.Label) {
                refused(token)
                _state.value = ScannerState.Rejected(describe(e), isLabelError = true)
            } catch (e: Exception) {
                refused(token)
                _state.value = ScannerState.Rejected(describe(e), isLabelError = false)
            }
        }
    }

    /** Look for a label again after a refusal. */
    fun scanAgain() {
        refusedAtMillis = System.currentTimeMillis()
        _state.value = ScannerState.Ready
    }

    private fun refused(token: String) {
        refusedToken = token
        refusedAtMillis = System.currentTimeMillis()
    }

    private companion object {
        const val REFUSED_QUIET_MILLIS = 2_000L
    }
}
