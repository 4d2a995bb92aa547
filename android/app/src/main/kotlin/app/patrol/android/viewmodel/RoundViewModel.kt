package app.patrol.android.viewmodel

import android.app.Application
import androidx.lifecycle.SavedStateHandle
import app.patrol.kit.ffi.Place
import app.patrol.kit.ffi.Progress
import app.patrol.kit.ffi.Scan
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.flow.update

data class RoundUiState(
    val loading: Boolean = true,
    val progress: Progress? = null,
    val error: String? = null,
    val message: String? = null,
    /** A visit without a label or the finish is being recorded. */
    val busy: Boolean = false,
)

/** What the round screen asks its navigation to do. */
sealed interface RoundEvent {
    data class OpenVisit(val visitId: String) : RoundEvent

    data object Finished : RoundEvent
}

/** One round under way: how far it has got, visits without a label, finishing it. */
class RoundViewModel(
    application: Application,
    savedStateHandle: SavedStateHandle,
) : PatrolViewModel(application) {

    val runId: String = checkNotNull(savedStateHandle.get<String>(ARG_RUN_ID)) { "round screen without a round" }

    /** The route's name, for the title (empty when not known). */
    val routeName: String = savedStateHandle.get<String>(ARG_NAME).orEmpty()

    private val _state = MutableStateFlow(RoundUiState())
    val state: StateFlow<RoundUiState> = _state.asStateFlow()

    private val _events = Channel<RoundEvent>(Channel.BUFFERED)
    val events: Flow<RoundEvent> = _events.receiveAsFlow()

    /** Read the round's progress again (after each visit). */
    fun refresh() {
        launchCatching(onError = { message ->
            _state.update {
                if (it.progress == null) it.copy(loading = false, error = message) else it.copy(loading = false, message = message)
            }
        }) {
            val progress: Progress = repo.progress(runId)
            _state.update { it.copy(loading = false, progress = progress, error = null) }
        }
    }

    /** The label cannot be scanned: record the visit with [reason] and open its checklist. */
    fun visitWithoutLabel(place: Place, reason: String) {
        if (_state.value.busy || reason.isBlank()) return
        _state.update { it.copy(busy = true) }
        launchCatching(onError = { message -> _state.update { it.copy(busy = false, message = message) } }) {
            val scan: Scan = repo.visitWithoutLabel(runId, place.checkpointId, reason.trim())
            patrolApp.visits.put(scan)
            _state.update { it.copy(busy = false) }
            _events.send(RoundEvent.OpenVisit(scan.visitId))
        }
    }

    /** Finish the round; [missed] gives the reason for each checkpoint not visited. */
    fun finish(missed: Map<String, String>) {
        if (_state.value.busy) return
        _state.update { it.copy(busy = true) }
        launchCatching(onError = { message -> _state.update { it.copy(busy = false, message = message) } }) {
            repo.finishRound(runId, missed.mapValues { (_, reason) -> reason.trim() })
            syncSoon()
            _state.update { it.copy(busy = false) }
            _events.send(RoundEvent.Finished)
        }
    }

    fun messageShown() {
        _state.update { it.copy(message = null) }
    }

    companion object {
        const val ARG_RUN_ID = "runId"
        const val ARG_NAME = "name"
    }
}
