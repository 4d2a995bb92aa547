package app.patrol.android

import app.patrol.android.viewmodel.ItemDraft
import app.patrol.kit.ffi.ChecklistItem
import app.patrol.kit.ffi.ChecklistMethod
import app.patrol.kit.ffi.ItemKind
import app.patrol.kit.ffi.Outcome
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** How the checklist screen decides what can be saved, before the engine judges it. */
class ItemDraftTest {
    private fun item(
        kind: ItemKind = ItemKind.CHECK,
        photoOnFault: Boolean = false,
        min: Double? = null,
        max: Double? = null,
    ): ChecklistItem = ChecklistItem(
        key = "stairwell.lights",
        textZh = "楼道灯是否正常",
        textEn = "Stairwell lights work",
        method = ChecklistMethod.LOOK,
        kind = kind,
        unit = if (kind == ItemKind.READING) "MPa" else null,
        normalMin = min,
        normalMax = max,
        photoOnFault = photoOnFault,
        hintZh = null,
    )

    @Test
    fun aFaultThatWantsAPhotoCannotBeSavedWithoutOne() {
        val draft = ItemDraft(item = item(photoOnFault = true), outcome = Outcome.FAULT, dirty = true)
        assertTrue(draft.needsPhoto)
        assertFalse(draft.canSave)
        val withPhoto = draft.copy(photos = listOf("photo-1"))
        assertFalse(withPhoto.needsPhoto)
        assertTrue(withPhoto.canSave)
    }

    @Test
    fun anOkCheckSavesWithoutAPhoto() {
        val draft = ItemDraft(item = item(photoOnFault = true), outcome = Outcome.OK, dirty = true)
        assertFalse(draft.looksFaulty)
        assertTrue(draft.canSave)
    }

    @Test
    fun readingsOutsideTheirRangeLookFaultyAndAcceptADecimalComma() {
        val pressure = item(kind = ItemKind.READING, photoOnFault = true, min = 0.15, max = 0.6)
        val normal = ItemDraft(item = pressure, reading = "0,3", dirty = true)
        assertEquals(0.3, normal.readingValue)
        assertFalse(normal.readingOutOfRange)
        assertTrue(normal.canSave)

        val low = normal.copy(reading = "0.1")
        assertTrue(low.readingOutOfRange)
        assertTrue(low.needsPhoto)
        assertFalse(low.canSave)
    }

    @Test
    fun aReadingMustBeANumber() {
        val draft = ItemDraft(item = item(kind = ItemKind.READING, max = 40.0), reading = "abc", dirty = true)
        assertNull(draft.readingValue)
        assertFalse(draft.complete)
        assertFalse(draft.canSave)
    }

    @Test
    fun onlyASavedUnreportedFaultCanBeReported() {
        val saved = ItemDraft(item = item(), outcome = Outcome.FAULT, saved = Outcome.FAULT, dirty = false)
        assertTrue(saved.canReport)
        assertFalse(saved.copy(dirty = true).canReport)
        assertFalse(saved.copy(saved = Outcome.OK).canReport)
    }

    @Test
    fun textItemsNeedText() {
        val draft = ItemDraft(item = item(kind = ItemKind.TEXT), text = "  ", dirty = true)
        assertFalse(draft.complete)
        assertTrue(draft.copy(text = "正常").canSave)
    }
}
