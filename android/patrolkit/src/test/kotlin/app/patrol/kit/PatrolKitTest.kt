package app.patrol.kit

import app.patrol.kit.ffi.AlertKind
import app.patrol.kit.ffi.Issue
import app.patrol.kit.ffi.IssueCategory
import app.patrol.kit.ffi.IssueStatus
import app.patrol.kit.ffi.ItemKind
import app.patrol.kit.ffi.Outcome
import app.patrol.kit.ffi.PatrolException
import app.patrol.kit.ffi.ReportInput
import app.patrol.kit.ffi.Role
import app.patrol.kit.ffi.RouteToday
import app.patrol.kit.ffi.ScanFlag
import app.patrol.kit.ffi.Severity
import app.patrol.kit.ffi.SlaState
import app.patrol.kit.ffi.SyncPhase
import app.patrol.kit.ffi.Team
import app.patrol.kit.ffi.VisitMethod
import java.util.Collections
import kotlin.test.AfterTest
import kotlin.test.BeforeTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking

/**
 * The Kotlin layer the Android app stands on, driven the way its screens drive it, against the
 * real server: the generated bindings over the host build of patrol-mobile, through JNA.
 */
class PatrolKitTest {
    private lateinit var server: TestServer

    @BeforeTest
    fun start() {
        server = TestServer()
    }

    @AfterTest
    fun stop() {
        server.close()
    }

    /** The demo's building round: the demo schedules it around the hour it starts, so it need not come first. */
    private suspend fun buildingRound(patrol: PatrolRepository): RouteToday =
        patrol.routesToday().first { it.name.contains("Building") }

    /** Walk the building round; report a fault with a photo at the stairwell lights. */
    private suspend fun walkRound(patrol: PatrolRepository, labels: Map<String, String>): Issue {
        val route = buildingRound(patrol)
        val run = patrol.startRound(route.routeId)
        var issue: Issue? = null
        for (checkpoint in route.checkpoints) {
            val scan = patrol.scan(run, labels.getValue(checkpoint))
            assertEquals(checkpoint, scan.checkpointId)
            for (item in scan.items) {
                if (issue == null && item.key == "stairwell.lights") {
                    val photo = patrol.addPhoto(jpeg())
                    val outcome = patrol.answer(scan.visitId, item, ItemAnswer.Mark(Outcome.FAULT, photos = listOf(photo)))
                    assertEquals(Outcome.FAULT, outcome)
                    issue = patrol.reportFault(scan.visitId, item.key, "${scan.checkpointName}灯不亮", "声控灯不亮", listOf(photo))
                    continue
                }
                val answer = when (item.kind) {
                    ItemKind.READING -> ItemAnswer.Reading(assertNotNull(item.normalMin ?: item.normalMax))
                    ItemKind.TEXT -> ItemAnswer.Text("正常")
                    ItemKind.CHECK -> ItemAnswer.Mark(Outcome.OK)
                }
                patrol.answer(scan.visitId, item, answer)
            }
        }
        val progress = patrol.progress(run)
        assertEquals(progress.total, progress.visited)
        assertTrue(progress.remaining.isEmpty())
        patrol.finishRound(run)
        return assertNotNull(issue, "the route has a stairwell with lights")
    }

    @Test
    fun patrolReportsTechnicianFixesSupervisorSignsOff() = runBlocking {
        val labels = server.labels()
        val patrol = server.phone("patrol")
        val refused = assertFailsWith<PatrolException.SignedOut> { patrol.signIn("demo-patrol", "wrong") }
        assertTrue(refused.message.orEmpty().contains("password"), refused.message)
        val me = patrol.signIn("demo-patrol", "demo")
        assertEquals(Role.PATROL, me.role)
        assertEquals(null, me.team)
        patrol.sync()

        val issue = walkRound(patrol, labels)
        assertEquals(IssueStatus.OPEN to Team.ENGINEERING, issue.status to issue.team)
        assertEquals(SlaState.ON_TRACK, issue.sla, "just found: three days to go")
        assertTrue(patrol.pending().ops > 10u)
        patrol.sync()
        assertEquals(0uL, patrol.pending().ops)
        assertEquals(0uL, patrol.pending().photos)

        val tech = server.phone("tech")
        val techUser = tech.signIn("demo-tech", "demo")
        val boss = server.phone("boss")
        boss.signIn("demo-super", "demo")
        boss.sync()
        assertTrue(boss.jobs().any { it.id == issue.id })
        val engineers = boss.people(Team.ENGINEERING)
        assertTrue(engineers.any { it.userId == techUser.userId }, "$engineers")
        assertTrue(engineers.all { it.team == Team.ENGINEERING && it.role == Role.TECHNICIAN }, "$engineers")
        assertTrue(boss.people().size > engineers.size)
        boss.assign(issue.id, techUser.userId)
        boss.sync()

        tech.sync()
        val job = tech.jobs().single { it.id == issue.id }
        assertEquals(IssueStatus.ASSIGNED, job.status)
        tech.startJob(job.id)
        val after = tech.addPhoto(jpeg(tint = 200))
        assertTrue(tech.photoFile(after).isFile)
        assertEquals(IssueStatus.RESOLVED, tech.resolveJob(job.id, "换灯管", listOf(after)).status)
        tech.sync()

        boss.sync()
        val onSite = boss.addPhoto(jpeg(tint = 120))
        val closed = boss.acceptFix(issue.id, signaturePng(), "灯已亮", listOf(onSite))
        assertEquals(IssueStatus.CLOSED, closed.status)
        assertEquals(null, closed.sla, "no clock runs once closed")
        assertEquals(1uL, boss.sync().applied)

        // The server's queue shows it closed, and its sign-off keeps the photo taken on site.
        assertTrue(server.queue("closed").any { it.first == issue.id }, "closed in the server's queue")
        val audit = server.get("/api/v1/issues/${issue.id}", server.token("demo-manager"))["audit"].asJsonArray
        val signOff = assertNotNull(audit.map { it.asJsonObject }.firstOrNull { it["kind"].asString == "issue.verify" }, "$audit")
        assertEquals(listOf(onSite), signOff["photos"].asJsonArray.map { it.asString })
        listOf(patrol, tech, boss).forEach { it.close() }
    }

    @Test
    fun anUrgentReportIsAnAlertTheSupervisorAcknowledgesFromThePhone() = runBlocking {
        val patrol = server.phone("patrol")
        patrol.signIn("demo-patrol", "demo")
        patrol.sync()
        val site = assertNotNull(patrol.session()).sites.first()
        val issue = patrol.report(
            ReportInput(
                siteId = site, visitId = null, itemKey = null, category = IssueCategory.SECURITY,
                severity = Severity.URGENT, title = "地下车库有燃气味", note = null,
                photos = emptyList(), fixedOnSpot = false,
            ),
        )
        patrol.sync()

        val boss = server.phone("boss")
        val me = boss.signIn("demo-super", "demo")
        boss.sync()
        val alert = boss.alerts().single { it.issueId == issue.id }
        assertEquals(AlertKind.URGENT, alert.kind)
        assertTrue(alert.textZh.contains("地下车库有燃气味"), alert.textZh)
        assertFailsWith<PatrolException.Refused> { boss.acknowledgeAlert(alert.id, "  ") }
        val acked = boss.acknowledgeAlert(alert.id, " 保安已到场，阀门已关 ")
        assertEquals(me.userId to "保安已到场，阀门已关", acked.ackedBy to acked.note)
        assertTrue(boss.alerts().none { it.id == alert.id }, "no longer open on the phone")
        assertEquals(1uL, boss.sync().applied)

        // On the server the acknowledgement is the supervisor's, with the note.
        val pulled = server.get("/api/v1/sync/pull?limit=2000", server.token("demo-manager"))["changes"].asJsonArray
            .map { it.asJsonObject }
            .single { it["entity"].asString == "alert" && it["id"].asString == alert.id }["data"].asJsonObject
        assertEquals(me.userId, pulled["acked_by"].asString)
        assertEquals("保安已到场，阀门已关", pulled["note"].asString)
        listOf(patrol, boss).forEach { it.close() }
    }

    @Test
    fun forgedLabelIsATypedExceptionWithAReadableMessage() = runBlocking {
        val labels = server.labels()
        val patrol = server.phone("patrol")
        patrol.signIn("demo-patrol", "demo")
        patrol.sync()
        val route = buildingRound(patrol)
        val run = patrol.startRound(route.routeId)
        val token = labels.getValue(route.checkpoints.first())
        // One character of the signature changed, as a copied-and-edited label would be.
        val i = token.length - 20
        val forged = token.substring(0, i) + (if (token[i] == 'A') 'B' else 'A') + token.substring(i + 1)
        val e = assertFailsWith<PatrolException.Label> { patrol.scan(run, forged) }
        val message = assertNotNull(e.message)
        assertTrue(message.contains("签名无效") && message.contains("forged"), message)
        // Not a label of ours at all: another sentence, the same type.
        val other = assertFailsWith<PatrolException.Label> { patrol.scan(run, "https://example.com/x") }
        assertTrue(other.message.orEmpty().isNotBlank() && other.message != message, "${other.message}")
        // The real label still works afterwards.
        val scan = patrol.scan(run, token)
        assertEquals(route.checkpoints.first() to VisitMethod.QR, scan.checkpointId to scan.method)
        assertTrue(scan.flags.isEmpty(), "${scan.flags}")
        // The same label again at once is flagged, with how long it has been; never refused.
        val again = assertIs<ScanFlag.RepeatScan>(patrol.scan(run, token).flags.single())
        assertTrue(again.secs < 60u, "$again")
        patrol.close()
    }

    @Test
    fun syncReportsProgressAndACancelledSyncResumesWithoutLossOrRepeats() = runBlocking {
        val labels = server.labels()
        val patrol = server.phone("patrol")
        patrol.signIn("demo-patrol", "demo")
        patrol.sync()
        val route = buildingRound(patrol)
        val run = patrol.startRound(route.routeId)
        val scan = patrol.scan(run, labels.getValue(route.checkpoints.first()))
        val titles = (1..6).map { "楼道杂物堆放 #$it" }
        for ((n, title) in titles.withIndex()) {
            val photo = patrol.addPhoto(jpeg(tint = n * 30))
            patrol.reportFault(scan.visitId, null, title, null, listOf(photo))
        }
        val before = patrol.pending()
        assertEquals(6uL, before.photos)

        // 1. Cancelled from Kotlin (the status screen's button) while photos go up.
        val heard = Collections.synchronizedList(mutableListOf<Triple<SyncPhase, Long, Long>>())
        assertFailsWith<PatrolException.Cancelled> {
            patrol.sync { phase, done, total ->
                heard += Triple(phase, done, total)
                if (phase == SyncPhase.PHOTOS && done == 2L) patrol.cancelSync()
            }
        }
        assertTrue(heard.isNotEmpty(), "progress reached the Kotlin callback")
        assertTrue(heard.all { it.first == SyncPhase.PHOTOS && it.third == 6L }, "$heard")
        assertIs<SyncState.Failed>(patrol.syncState.value)
        val afterCancel = patrol.pending()
        assertEquals(4uL, afterCancel.photos, "the two photos sent stay sent")
        assertEquals(before.ops, afterCancel.ops, "no op went before the photos")

        // 2. Cancelled as the queued work is about to go: none of it goes.
        assertFailsWith<PatrolException.Cancelled> {
            patrol.sync { phase, _, _ -> if (phase == SyncPhase.OPS) patrol.cancelSync() }
        }
        assertEquals(0uL, patrol.pending().photos)
        assertEquals(before.ops, patrol.pending().ops)

        // 3. Cancelled while receiving: the work sent stays sent.
        assertFailsWith<PatrolException.Cancelled> {
            patrol.sync { phase, _, _ -> if (phase == SyncPhase.PULL) patrol.cancelSync() }
        }
        assertEquals(0uL, patrol.pending().ops)

        // 4. The next sync carries on and finishes; nothing was lost and nothing doubled.
        val phases = Collections.synchronizedSet(mutableSetOf<SyncPhase>())
        val summary = patrol.sync { phase, _, _ -> phases += phase }
        assertTrue(SyncPhase.PULL in phases, "$phases")
        assertEquals(0uL, summary.rejected + summary.duplicates + summary.applied)
        assertIs<SyncState.Done>(patrol.syncState.value)
        val onServer = server.queue().map { it.second }
        for (title in titles) assertEquals(1, onServer.count { it == title }, "$title on the server: $onServer")
        patrol.close()
    }

    @Test
    fun cancellingTheCallingCoroutineStopsTheSync() = runBlocking {
        val patrol = server.phone("patrol")
        patrol.signIn("demo-patrol", "demo")
        val route = run {
            patrol.sync()
            buildingRound(patrol)
        }
        val run = patrol.startRound(route.routeId)
        val scan = patrol.scan(run, server.labels().getValue(route.checkpoints.first()))
        repeat(3) { patrol.reportFault(scan.visitId, null, "消防通道堵塞 #$it", null, listOf(patrol.addPhoto(jpeg(it * 50)))) }
        lateinit var job: Deferred<*>
        job = async {
            patrol.sync { phase, done, _ ->
                if (phase == SyncPhase.PHOTOS && done == 1L) {
                    job.cancel()
                    // This is the sync's own thread: hold it while the cancellation reaches Rust
                    // (the coroutine's watcher runs on the caller's dispatcher).
                    Thread.sleep(300)
                }
            }
        }
        assertFailsWith<CancellationException> { job.await() }
        assertEquals(2uL, patrol.pending().photos, "stopped after the photo under way")
        patrol.sync()
        assertEquals(0uL, patrol.pending().photos)
        assertEquals(0uL, patrol.pending().ops)
        patrol.close()
    }
}

/** A signature pad's picture: a PNG with a stroke on it. */
fun signaturePng(): ByteArray {
    val img = java.awt.image.BufferedImage(600, 200, java.awt.image.BufferedImage.TYPE_INT_RGB)
    val g = img.createGraphics()
    g.color = java.awt.Color.WHITE
    g.fillRect(0, 0, 600, 200)
    g.color = java.awt.Color.BLACK
    g.stroke = java.awt.BasicStroke(4f)
    g.drawPolyline(intArrayOf(40, 120, 200, 300, 420, 560), intArrayOf(150, 60, 140, 50, 160, 80), 6)
    g.dispose()
    val out = java.io.ByteArrayOutputStream()
    javax.imageio.ImageIO.write(img, "png", out)
    return out.toByteArray()
}
