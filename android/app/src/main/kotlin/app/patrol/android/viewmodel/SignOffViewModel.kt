package app.patrol.android.viewmodel

import android.app.Application
import androidx.lifecycle.SavedStateHandle
import app.patrol.android.R
import app.patrol.kit.ffi.Issue
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.withContext

data class SignOffUiState(
    val loading: Boolean = true,
    val issue: Issue? = null,
    /** The issue is no longer among the open ones (someone else signed it off). */
    val notFound: Boolean = false,
    val error: String? = null,
    val note: String = "",
    val rejectReason: String = "",
    val sending: Boolean = false,
    val message: String? = null,
)

/** Verify a fix on site: accept it with a signature, or send it back with the reason. */
class SignOffViewModel(
    application: Application,
    savedStateHandle: SavedStateHandle,
) : PatrolViewModel(application) {

    private val issueId: String = checkNotNull(savedStateHandle.get<String>(ResolveJobViewModel.ARG_ISSUE_ID)) { "sign-off without an issue" }

    private val _state = MutableStateFlow(SignOffUiState())
    val state: StateFlow<SignOffUiState> = _state.asStateFlow()

    private val _done = Channel<Issue>(Channel.BUFFERED)

    /** The issue once accepted (closed) or sent back; the screen then closes. */
    val done: Flow<Issue> = _done.receiveAsFlow()

    init {
        load()
    }

    fun load() {
        _state.update { it.copy(loading = true, error = null) }
        launchCatching(onError = { message -> _state.update { it.copy(loading = false, error = message) } }) {
            val issue: Issue? = repo.jobs().firstOrNull { it.id == issueId }
            _state.update { it.copy(loading = false, issue = issue, notFound = issue == null) }
        }
    }

    fun setNote(note: String) = _state.update { it.copy(note = note) }

    fun setRejectReason(reason: String) = _state.update { it.copy(rejectReason = reason) }

    /** Accept the fix; [signature] draws the signature pad's picture (null while it is empty). */
    fun accept(signature: () -> ByteArray?) {
        if (_state.value.sending) return
        _state.update { it.copy(sending = true) }
        launchCatching(onError = { message -> _state.update { it.copy(sending = false, message = message) } }) {
            val png: ByteArray? = withContext(Dispatchers.Default) { signature() }
            if (png == null) {
                _state.update { it.copy(sending = false, message = text(R.string.signoff_signature_required)) }
                return@launchCatching
            }
            val note = _state.value.note.trim().ifEmpty { null }
            // This screen takes no photos of its own: the signature is the evidence it adds.
            val issue: Issue = repo.acceptFix(issueId, png, note, photos = emptyList())
            syncSoon()
            _state.update { it.copy(sending = false, issue = issue) }
            _done.send(issue)
        }
    }

    /** Send the fix back to the technician. */
    fun reject() {
        val reason = _state.value.rejectReason
        if (_state.value.sending) return
        if (reason.isBlank()) {
            _state.update { it.copy(message = text(R.string.signoff_reason_required)) }
            return
        }
        _state.update { it.copy(sending = true) }
        launchCatching(onError = { message -> _state.update { it.copy(sending = false, message = message) } }) {
            val issue: Issue = repo.rejectFix(issueId, reason, photos = emptyList())
            syncSoon()
            _state.update { it.copy(sending = false, issue = issue) }
            _done.send(issue)
        }
    }

    fun messageShown() = _state.update { it.copy(message = null) }
}
