package app.patrol.android

import app.patrol.android.ui.components.formatClock
import app.patrol.android.ui.components.formatDateTime
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertTrue

class FormatTest {
    @Test
    fun scheduleTimesLoseTheirSeconds() {
        assertEquals("09:00", formatClock("09:00:00"))
        assertEquals("7am", formatClock("7am"))
    }

    @Test
    fun dueTimesAreShownInLocalTimeAndBadOnesAsTheyAre() {
        val shown = formatDateTime("2030-05-01T08:30:00Z")
        assertTrue(shown.matches(Regex("""\d\d-\d\d \d\d:\d\d""")), shown)
        assertEquals("soon", formatDateTime("soon"))
    }
}
