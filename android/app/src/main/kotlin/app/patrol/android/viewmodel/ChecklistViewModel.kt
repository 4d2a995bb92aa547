package app.patrol.android.viewmodel

import android.app.Application
import androidx.lifecycle.SavedStateHandle
import app.patrol.android.R
import app.patrol.kit.ItemAnswer
import app.patrol.kit.ffi.ChecklistItem
import app.patrol.kit.ffi.Issue
import app.patrol.kit.ffi.ItemKind
import app.patrol.kit.ffi.Outcome
import app.patrol.kit.ffi.Scan
import java.io.File
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/** One checklist item as the guard is answering it. */
data class ItemDraft(
    val item: ChecklistItem,
    /** ok / fault / n.a., for `check` items. */
    val outcome: Outcome? = null,
    /** The meter reading as typed, for `reading` items. */
    val reading: String = "",
    /** The written answer, for `text` items. */
    val text: String = "",
    val note: String = "",
    val photos: List<String> = emptyList(),
    /** The engine's verdict on the last saved answer. */
    val saved: Outcome? = null,
    /** Changed since it was last saved. */
    val dirty: Boolean = false,
    val saving: Boolean = false,
    val addingPhoto: Boolean = false,
    /** The issue reported for this item's fault. */
    val reported: Issue? = null,
    val reportedFixed: Boolean = false,
) {
    val kind: ItemKind get() = item.kind

    /** The typed reading as a number (a decimal comma is read too). */
    val readingValue: Double?
        get() = reading.trim().replace(',', '.').toDoubleOrNull()

    /** A reading outside its normal range. */
    val readingOutOfRange: Boolean
        get() {
            val value = readingValue ?: return false
            val min = item.normalMin
            val max = item.normalMax
            return (min != null && value < min) || (max != null && value > max)
        }

    /** The answer as it stands would be a fault. */
    val looksFaulty: Boolean
        get() = when (kind) {
            ItemKind.READING -> readingOutOfRange
            ItemKind.TEXT -> false
            ItemKind.CHECK -> outcome == Outcome.FAULT
        }

    /** The item wants a photo of the fault and none has been taken yet. */
    val needsPhoto: Boolean
        get() = item.photoOnFault && looksFaulty && photos.isEmpty()

    /** Everything the item asks for has been given. */
    val complete: Boolean
        get() = when (kind) {
            ItemKind.READING -> readingValue != null
            ItemKind.TEXT -> text.isNotBlank()
            ItemKind.CHECK -> outcome != null
        }

    val canSave: Boolean
        get() = complete && !needsPhoto && !saving && !addingPhoto && (dirty || saved == null)

    /** Saved as a fault and not reported yet. */
    val canReport: Boolean
        get() = saved == Outcome.FAULT && !dirty && reported == null
}

data class ChecklistUiState(
    val scan: Scan? = null,
    /** The visit's checklist is no longer in memory (the app was closed): scan again. */
    val missing: Boolean = false,
    val drafts: List<ItemDraft> = emptyList(),
    /** The item whose fault is being reported. */
    val reporting: String? = null,
    val message: String? = null,
) {
    val unanswered: Int get() = drafts.count { it.saved == null }
}

/** The checklist of one visit: answers, fault photos, fault reports. */
class ChecklistViewModel(
    application: Application,
    savedStateHandle: SavedStateHandle,
) : PatrolViewModel(application) {

    val visitId: String = checkNotNull(savedStateHandle.get<String>(ARG_VISIT_ID)) { "checklist without a visit" }

    private val _state = MutableStateFlow(ChecklistUiState())
    val state: StateFlow<ChecklistUiState> = _state.asStateFlow()

    init {
        val scan: Scan? = patrolApp.visits.get(visitId)
        _state.value = if (scan == null) {
            ChecklistUiState(missing = true)
        } else {
            ChecklistUiState(scan = scan, drafts = scan.items.map { item: ChecklistItem -> ItemDraft(item = item) })
        }
    }

    private fun edit(key: String, change: (ItemDraft) -> ItemDraft) {
        _state.update { state ->
            state.copy(drafts = state.drafts.map { if (it.item.key == key) change(it) else it })
        }
    }

    private fun draft(key: String): ItemDraft? = _state.value.drafts.firstOrNull { it.item.key == key }

    fun setOutcome(key: String, outcome: Outcome) = edit(key) { it.copy(outcome = outcome, dirty = true) }

    fun setReading(key: String, reading: String) = edit(key) { it.copy(reading = reading, dirty = true) }

    fun setText(key: String, text: String) = edit(key) { it.copy(text = text, dirty = true) }

    fun setNote(key: String, note: String) = edit(key) { it.copy(note = note, dirty = true) }

    /** Keep the camera's picture and attach it to the item. */
    fun addPhoto(key: String, file: File) {
        edit(key) { it.copy(addingPhoto = true) }
        launchCatching(onError = { message ->
            edit(key) { it.copy(addingPhoto = false) }
            _state.update { it.copy(message = message) }
        }) {
            val photoId = keepPhoto(file)
            edit(key) { it.copy(addingPhoto = false, photos = it.photos + photoId, dirty = true) }
        }
    }

    fun removePhoto(key: String, photoId: String) = edit(key) { it.copy(photos = it.photos - photoId, dirty = true) }

    /** Send the item's answer to the engine, which judges it. */
    fun save(key: String) {
        val current = draft(key) ?: return
        if (!current.canSave) {
            if (current.needsPhoto) _state.update { it.copy(message = text(R.string.checklist_photo_required)) }
            return
        }
        val note = current.note.trim().ifEmpty { null }
        val answer: ItemAnswer = when (current.kind) {
            ItemKind.READING -> ItemAnswer.Reading(value = current.readingValue ?: return, note = note, photos = current.photos)
            ItemKind.TEXT -> ItemAnswer.Text(text = current.text.trim(), photos = current.photos)
            ItemKind.CHECK -> ItemAnswer.Mark(outcome = current.outcome ?: return, note = note, photos = current.photos)
        }
        edit(key) { it.copy(saving = true) }
        launchCatching(onError = { message ->
            edit(key) { it.copy(saving = false) }
            _state.update { it.copy(message = message) }
        }) {
            val outcome: Outcome = repo.answer(visitId, current.item, answer)
            edit(key) { it.copy(saving = false, saved = outcome, dirty = false) }
            if (outcome == Outcome.FAULT && current.item.photoOnFault && current.photos.isEmpty()) {
                // The engine judged a reading a fault that looked normal here: ask for the photo.
                edit(key) { it.copy(dirty = true) }
                _state.update { it.copy(message = text(R.string.checklist_photo_required)) }
            }
        }
    }

    fun startReport(key: String) {
        _state.update { it.copy(reporting = key) }
    }

    fun cancelReport() {
        _state.update { it.copy(reporting = null) }
    }

    /** Report the item's fault, or record that it was fixed on the spot. */
    fun report(key: String, title: String, note: String, fixedOnSpot: Boolean) {
        val current = draft(key) ?: return
        if (title.isBlank()) {
            _state.update { it.copy(message = text(R.string.report_title_required)) }
            return
        }
        _state.update { it.copy(reporting = null) }
        edit(key) { it.copy(saving = true) }
        launchCatching(onError = { message ->
            edit(key) { it.copy(saving = false) }
            _state.update { it.copy(message = message) }
        }) {
            val issue: Issue = repo.reportFault(
                visitId = visitId,
                itemKey = key,
                title = title,
                note = note,
                photos = current.photos,
                fixedOnSpot = fixedOnSpot,
            )
            syncSoon()
            edit(key) { it.copy(saving = false, reported = issue, reportedFixed = fixedOnSpot) }
            _state.update {
                it.copy(message = text(if (fixedOnSpot) R.string.report_fixed_recorded else R.string.report_sent))
            }
        }
    }

    /** The visit is done: its checklist is no longer needed in memory. */
    fun close() {
        patrolApp.visits.remove(visitId)
        syncSoon()
    }

    fun messageShown() {
        _state.update { it.copy(message = null) }
    }

    companion object {
        const val ARG_VISIT_ID = "visitId"
    }
}
