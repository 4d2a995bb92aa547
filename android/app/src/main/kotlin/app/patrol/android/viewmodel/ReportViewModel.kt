package app.patrol.android.viewmodel

import android.app.Application
import androidx.lifecycle.SavedStateHandle
import app.patrol.android.R
import app.patrol.kit.ffi.Issue
import app.patrol.kit.ffi.IssueCategory
import app.patrol.kit.ffi.ReportInput
import app.patrol.kit.ffi.Severity
import java.io.File
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.flow.update

data class ReportUiState(
    val title: String = "",
    val note: String = "",
    /** What the form starts on: a routine facility problem, the commonest find. */
    val category: IssueCategory = IssueCategory.FACILITY,
    val severity: Severity = Severity.ROUTINE,
    val photos: List<String> = emptyList(),
    val fixedOnSpot: Boolean = false,
    val addingPhoto: Boolean = false,
    val sending: Boolean = false,
    val titleMissing: Boolean = false,
    val message: String? = null,
) {
    val canSend: Boolean get() = !sending && !addingPhoto
}

/** A problem seen at a checkpoint but not on its checklist (a complaint, something on the way). */
class ReportViewModel(
    application: Application,
    savedStateHandle: SavedStateHandle,
) : PatrolViewModel(application) {

    private val visitId: String = checkNotNull(savedStateHandle.get<String>(ChecklistViewModel.ARG_VISIT_ID)) { "report without a visit" }

    private val _state = MutableStateFlow(ReportUiState())
    val state: StateFlow<ReportUiState> = _state.asStateFlow()

    private val _sent = Channel<Issue>(Channel.BUFFERED)

    /** The issue once it is filed; the screen then closes. */
    val sent: Flow<Issue> = _sent.receiveAsFlow()

    fun setTitle(title: String) = _state.update { it.copy(title = title, titleMissing = false) }

    fun setNote(note: String) = _state.update { it.copy(note = note) }

    fun setCategory(category: IssueCategory) = _state.update { it.copy(category = category) }

    fun setSeverity(severity: Severity) = _state.update { it.copy(severity = severity) }

    fun setFixedOnSpot(fixed: Boolean) = _state.update { it.copy(fixedOnSpot = fixed) }

    fun addPhoto(file: File) {
        _state.update { it.copy(addingPhoto = true) }
        launchCatching(onError = { message -> _state.update { it.copy(addingPhoto = false, message = message) } }) {
            val photoId = keepPhoto(file)
            _state.update { it.copy(addingPhoto = false, photos = it.photos + photoId) }
        }
    }

    fun removePhoto(photoId: String) = _state.update { it.copy(photos = it.photos - photoId) }

    fun send() {
        val form = _state.value
        if (!form.canSend) return
        if (form.title.isBlank()) {
            _state.update { it.copy(titleMissing = true, message = text(R.string.report_title_required)) }
            return
        }
        _state.update { it.copy(sending = true) }
        launchCatching(onError = { message -> _state.update { it.copy(sending = false, message = message) } }) {
            val input = ReportInput(
                siteId = null,
                visitId = visitId,
                itemKey = null,
                category = form.category,
                severity = form.severity,
                title = form.title.trim(),
                note = form.note.trim().ifEmpty { null },
                photos = form.photos,
                fixedOnSpot = form.fixedOnSpot,
            )
            val issue: Issue = repo.report(input)
            syncSoon()
            _state.update { it.copy(sending = false) }
            _sent.send(issue)
        }
    }

    fun messageShown() = _state.update { it.copy(message = null) }
}
