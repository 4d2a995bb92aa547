package app.patrol.kit

import app.patrol.kit.ffi.Alert
import app.patrol.kit.ffi.ChecklistItem
import app.patrol.kit.ffi.Issue
import app.patrol.kit.ffi.MissedReason
import app.patrol.kit.ffi.Outcome
import app.patrol.kit.ffi.PatrolApp
import app.patrol.kit.ffi.PatrolException
import app.patrol.kit.ffi.Pending
import app.patrol.kit.ffi.Person
import app.patrol.kit.ffi.Progress
import app.patrol.kit.ffi.Rejection
import app.patrol.kit.ffi.ReportInput
import app.patrol.kit.ffi.RouteToday
import app.patrol.kit.ffi.Scan
import app.patrol.kit.ffi.Session
import app.patrol.kit.ffi.SyncCancel
import app.patrol.kit.ffi.SyncListener
import app.patrol.kit.ffi.SyncPhase
import app.patrol.kit.ffi.SyncSummary
import app.patrol.kit.ffi.Team
import java.io.File
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext

/**
 * What the screens use: the generated [PatrolApp] with every call moved off the main thread,
 * sync state as a [StateFlow], and answers shaped the way the checklist screen asks them.
 *
 * Errors are the generated [PatrolException]s; their `message` is for people (Chinese / English).
 */
class PatrolRepository(
    private val app: PatrolApp,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) : AutoCloseable {
    private val syncLock = Mutex()
    private val state = MutableStateFlow<SyncState>(SyncState.Idle)

    @Volatile
    private var running: SyncCancel? = null

    /** The current or last sync, for the sync status screen. */
    val syncState: StateFlow<SyncState> = state.asStateFlow()

    suspend fun signIn(username: String, password: String): Session =
        call { app.login(username.trim(), password) }

    suspend fun session(): Session? = call { app.session() }

    suspend fun signOut() = call { app.signOut() }

    suspend fun routesToday(): List<RouteToday> = call { app.routesToday() }

    /** Start a round; returns its id. */
    suspend fun startRound(routeId: String): String = call { app.startRound(routeId) }

    /** A label the camera read; throws [PatrolException.Label] for a forged, damaged or foreign one. */
    suspend fun scan(runId: String, token: String): Scan = call { app.scan(runId, token.trim()) }

    /** No label to scan (torn off, unreachable): the visit is kept with its reason. */
    suspend fun visitWithoutLabel(runId: String, checkpointId: String, reason: String): Scan =
        call { app.visitManually(runId, checkpointId, reason) }

    /** Answer one item; the engine judges readings against their normal range. */
    suspend fun answer(visitId: String, item: ChecklistItem, answer: ItemAnswer): Outcome = call {
        when (answer) {
            is ItemAnswer.Mark -> app.answer(visitId, item.key, answer.outcome, null, answer.note, answer.photos)
            is ItemAnswer.Reading -> app.answer(visitId, item.key, null, answer.value, answer.note, answer.photos)
            is ItemAnswer.Text -> app.answer(visitId, item.key, null, null, answer.text, answer.photos)
        }
    }

    /** Keep a camera picture (JPEG bytes) or a signature (PNG); returns the photo id. */
    suspend fun addPhoto(bytes: ByteArray): String = call { app.addPhoto(bytes) }

    /** The kept photo's file, to show it. */
    suspend fun photoFile(photoId: String, thumbnail: Boolean = true): File =
        call { File(app.photoPath(photoId, thumbnail)) }

    /** Report what was found at a visit (category and severity default to the item's). */
    suspend fun reportFault(
        visitId: String,
        itemKey: String?,
        title: String,
        note: String?,
        photos: List<String>,
        fixedOnSpot: Boolean = false,
    ): Issue = call {
        app.report(
            ReportInput(
                siteId = null,
                visitId = visitId,
                itemKey = itemKey,
                category = null,
                severity = null,
                title = title.trim(),
                note = note?.trim()?.ifEmpty { null },
                photos = photos,
                fixedOnSpot = fixedOnSpot,
            ),
        )
    }

    /** Report a problem seen outside a checklist (a complaint, something on the way). */
    suspend fun report(input: ReportInput): Issue = call { app.report(input) }

    suspend fun progress(runId: String): Progress = call { app.progress(runId) }

    /** Finish; [missed] pairs each checkpoint not visited with why. */
    suspend fun finishRound(runId: String, missed: Map<String, String> = emptyMap()) = call {
        app.finishRound(runId, missed.map { (checkpoint, reason) -> MissedReason(checkpoint, reason) })
    }

    /** A technician's jobs, or a supervisor's open issues, soonest due first. */
    suspend fun jobs(): List<Issue> = call { app.jobs() }

    /** The people of the signed-in user's sites; with [team], only that team's (whom to assign to). */
    suspend fun people(team: Team? = null): List<Person> = call { app.people(team) }

    suspend fun assign(issueId: String, assigneeId: String): Issue = call { app.assign(issueId, assigneeId) }

    suspend fun startJob(issueId: String): Issue = call { app.startJob(issueId) }

    suspend fun resolveJob(issueId: String, note: String?, photos: List<String>): Issue =
        call { app.resolveJob(issueId, note?.trim()?.ifEmpty { null }, photos) }

    /**
     * Accept a fix on site, signed: [signaturePng] is the signature pad's picture; [photos] are
     * the ids of photos taken on site (from [addPhoto]), kept with the sign-off.
     */
    suspend fun acceptFix(issueId: String, signaturePng: ByteArray, note: String?, photos: List<String>): Issue = call {
        val signature = app.addPhoto(signaturePng)
        app.verify(issueId, true, note, signature, photos)
    }

    /** Send a fix back to the technician with the reason and the [photos] (ids) that show why. */
    suspend fun rejectFix(issueId: String, reason: String, photos: List<String>): Issue =
        call { app.verify(issueId, false, reason.trim(), null, photos) }

    suspend fun requestExtension(issueId: String, reason: String, dueAt: String): Issue =
        call { app.requestExtension(issueId, reason.trim(), dueAt) }

    suspend fun decideExtension(issueId: String, approved: Boolean, note: String?): Issue =
        call { app.decideExtension(issueId, approved, note) }

    /** Open alerts pulled for the signed-in person (urgent issues, missed rounds…), newest first. */
    suspend fun alerts(): List<Alert> = call { app.alerts() }

    /** Acknowledge an alert: who attended and what was done. It goes to the server on the next sync. */
    suspend fun acknowledgeAlert(alertId: String, note: String): Alert =
        call { app.ackAlert(alertId, note.trim()) }

    suspend fun pending(): Pending = call { app.pending() }

    suspend fun rejections(): List<Rejection> = call { app.rejections() }

    suspend fun dismissRejection(seq: ULong) = call { app.dismissRejection(seq) }

    /**
     * Sync now: photos, then queued work, then what changed on the server. One sync at a time;
     * cancelling the calling coroutine (or [cancelSync]) stops it at its next step, and what it
     * finished stays done — the next sync carries on from there.
     */
    suspend fun sync(onProgress: (SyncPhase, Long, Long) -> Unit = { _, _, _ -> }): SyncSummary =
        syncLock.withLock {
            coroutineScope {
                val cancel = SyncCancel()
                running = cancel
                // Cancelling this coroutine cancels the sync inside Rust.
                val watcher = launch {
                    try {
                        awaitCancellation()
                    } finally {
                        cancel.cancel()
                    }
                }
                state.value = SyncState.Running(null, 0, 0)
                val listener = object : SyncListener {
                    override fun onProgress(phase: SyncPhase, done: ULong, total: ULong) {
                        state.value = SyncState.Running(phase, done.toLong(), total.toLong())
                        onProgress(phase, done.toLong(), total.toLong())
                    }
                }
                try {
                    val summary = withContext(io) { app.syncNow(listener, cancel) }
                    state.value = SyncState.Done(summary, System.currentTimeMillis())
                    summary
                } catch (e: PatrolException) {
                    state.value = SyncState.Failed(e)
                    // Stopped because this coroutine was cancelled: say so the coroutine way.
                    currentCoroutineContext().ensureActive()
                    throw e
                } finally {
                    running = null
                    // The watcher touches the handle as it stops: let it finish before freeing it.
                    withContext(NonCancellable) { watcher.cancelAndJoin() }
                    cancel.close()
                }
            }
        }

    /** Stop the running sync, if any. */
    fun cancelSync() {
        try {
            running?.cancel()
        } catch (_: IllegalStateException) {
            // The sync finished and let go of its handle in the meantime: nothing to stop.
        }
    }

    override fun close() = app.close()

    private suspend fun <T> call(block: () -> T): T = withContext(io) { block() }

    companion object {
        /** Open the phone's engine in [dataDir] (a database and a photo folder) for [serverUrl]. */
        fun open(dataDir: File, serverUrl: String): PatrolRepository {
            dataDir.mkdirs()
            return PatrolRepository(PatrolApp.open(File(dataDir, "patrol.db").path, serverUrl))
        }
    }
}

/** How a checklist item was answered. */
sealed interface ItemAnswer {
    val note: String?
    val photos: List<String>

    /** 正常 / 故障 / 不适用. */
    data class Mark(
        val outcome: Outcome,
        override val note: String? = null,
        override val photos: List<String> = emptyList(),
    ) : ItemAnswer

    /** A meter reading; out of its normal range it is a fault. */
    data class Reading(
        val value: Double,
        override val note: String? = null,
        override val photos: List<String> = emptyList(),
    ) : ItemAnswer

    /** A written answer. */
    data class Text(val text: String, override val photos: List<String> = emptyList()) : ItemAnswer {
        override val note: String? get() = text
    }
}

/** Where syncing is, for the status screen. */
sealed interface SyncState {
    data object Idle : SyncState

    /** [phase] is null before the first step; for pulls [total] is 0 (unknown). */
    data class Running(val phase: SyncPhase?, val done: Long, val total: Long) : SyncState

    data class Done(val summary: SyncSummary, val atMillis: Long) : SyncState

    /** [error] says why; [retryable] when a later sync may work by itself (network, cancel). */
    data class Failed(val error: PatrolException) : SyncState {
        val retryable: Boolean
            get() = error is PatrolException.Network || error is PatrolException.Cancelled
    }
}
