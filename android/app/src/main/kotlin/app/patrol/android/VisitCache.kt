package app.patrol.android

import app.patrol.kit.ffi.Scan
import java.util.concurrent.ConcurrentHashMap

/**
 * The checklist a scan (or a visit without a label) returned, handed from the screen that made
 * the visit to the checklist screen. Kept in memory only: after the app was killed the visit is
 * found again by scanning its label.
 */
class VisitCache {
    private val scans = ConcurrentHashMap<String, Scan>()

    fun put(scan: Scan) {
        scans[scan.visitId] = scan
    }

    fun get(visitId: String): Scan? = scans[visitId]

    fun remove(visitId: String) {
        scans.remove(visitId)
    }
}
