package app.patrol.android.viewmodel

import android.app.Application
import androidx.lifecycle.SavedStateHandle
import app.patrol.android.R
import app.patrol.kit.ffi.Issue
import java.io.File
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.flow.update

data class ResolveJobUiState(
    val loading: Boolean = true,
    val issue: Issue? = null,
    /** The job is no longer in this technician's list. */
    val notFound: Boolean = false,
    val error: String? = null,
    val note: String = "",
    val photos: List<String> = emptyList(),
    val addingPhoto: Boolean = false,
    val sending: Boolean = false,
    val message: String? = null,
) {
    val canSend: Boolean get() = issue != null && photos.isNotEmpty() && !addingPhoto && !sending
}

/** Close out a job: photos of the fix and a note, for the supervisor to verify. */
class ResolveJobViewModel(
    application: Application,
    savedStateHandle: SavedStateHandle,
) : PatrolViewModel(application) {

    private val issueId: String = checkNotNull(savedStateHandle.get<String>(ARG_ISSUE_ID)) { "close-out without a job" }

    private val _state = MutableStateFlow(ResolveJobUiState())
    val state: StateFlow<ResolveJobUiState> = _state.asStateFlow()

    private val _resolved = Channel<Issue>(Channel.BUFFERED)

    /** The job once it is reported fixed; the screen then closes. */
    val resolved: Flow<Issue> = _resolved.receiveAsFlow()

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

    fun addPhoto(file: File) {
        _state.update { it.copy(addingPhoto = true) }
        launchCatching(onError = { message -> _state.update { it.copy(addingPhoto = false, message = message) } }) {
            val photoId = keepPhoto(file)
            _state.update { it.copy(addingPhoto = false, photos = it.photos + photoId) }
        }
    }

    fun removePhoto(photoId: String) = _state.update { it.copy(photos = it.photos - photoId) }

    fun resolve() {
        val form = _state.value
        if (form.photos.isEmpty()) {
            _state.update { it.copy(message = text(R.string.resolve_photo_required)) }
            return
        }
        if (!form.canSend) return
        _state.update { it.copy(sending = true) }
        launchCatching(onError = { message -> _state.update { it.copy(sending = false, message = message) } }) {
            val issue: Issue = repo.resolveJob(issueId, form.note, form.photos)
            syncSoon()
            _state.update { it.copy(sending = false, issue = issue) }
            _resolved.send(issue)
        }
    }

    fun messageShown() = _state.update { it.copy(message = null) }

    companion object {
        const val ARG_ISSUE_ID = "issueId"
    }
}
