package app.patrol.kit

import com.google.gson.JsonObject
import com.google.gson.JsonParser
import java.awt.Color
import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.util.concurrent.TimeUnit
import javax.imageio.ImageIO
import kotlin.concurrent.thread

/**
 * The real sync server (`PATROL_SERVER_BIN`, built by the test command) with the demo estate,
 * on a free port, in a folder of its own that goes when the test is done.
 */
class TestServer : AutoCloseable {
    val dir: File = Files.createTempDirectory("patrolkit-test").toFile()
    private val process: Process
    val baseUrl: String
    private val http: HttpClient = HttpClient.newHttpClient()

    init {
        val bin = System.getenv("PATROL_SERVER_BIN")
            ?: error("PATROL_SERVER_BIN is not set: run ./scripts/test (or scripts/kotlin-test)")
        process = ProcessBuilder(
            bin, "--data-dir", File(dir, "server").path,
            "serve", "--listen", "127.0.0.1:0", "--demo",
        ).redirectError(ProcessBuilder.Redirect.INHERIT).also { it.environment()["RUST_LOG"] = "warn" }.start()
        val lines = process.inputStream.bufferedReader()
        var url: String? = null
        while (url == null) {
            val line = lines.readLine() ?: error("the server exited before listening")
            url = line.removePrefix("patrol-server listening on ").takeIf { it != line }?.trim()
        }
        baseUrl = url
        // Keep draining its output so it never blocks on a full pipe.
        thread(isDaemon = true) { lines.forEachLine { } }
    }

    /** A phone: its own engine folder, talking to this server. */
    fun phone(name: String): PatrolRepository = PatrolRepository.open(File(dir, "phone-$name"), baseUrl)

    /** Sign in over HTTP (as the web console would) and return the access token. */
    fun token(username: String, password: String = "demo"): String {
        val body = JsonObject().apply {
            addProperty("username", username)
            addProperty("password", password)
        }
        val res = http.send(
            HttpRequest.newBuilder(URI("$baseUrl/api/v1/auth/login"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build(),
            HttpResponse.BodyHandlers.ofString(),
        )
        check(res.statusCode() == 200) { "login $username: ${res.statusCode()} ${res.body()}" }
        return JsonParser.parseString(res.body()).asJsonObject["access_token"].asString
    }

    /** GET a JSON API path with a bearer token. */
    fun get(path: String, token: String): JsonObject {
        val res = http.send(
            HttpRequest.newBuilder(URI("$baseUrl$path")).header("authorization", "Bearer $token").GET().build(),
            HttpResponse.BodyHandlers.ofString(),
        )
        check(res.statusCode() == 200) { "GET $path: ${res.statusCode()} ${res.body()}" }
        return JsonParser.parseString(res.body()).asJsonObject
    }

    /** The server's queue: issues with the given status (all when null), as id → title. */
    fun queue(status: String? = null): List<Pair<String, String>> {
        val query = status?.let { "?status=" + URLEncoder.encode(it, Charsets.UTF_8) } ?: ""
        return get("/api/v1/issues$query", token("demo-manager"))["issues"].asJsonArray.map {
            val issue = it.asJsonObject
            issue["id"].asString to issue["title"].asString
        }
    }

    /** What is printed on each checkpoint's label (checkpoint id → token): what a camera reads. */
    fun labels(): Map<String, String> {
        val page = get("/api/v1/sync/pull?limit=2000", token("demo-super"))
        return page["changes"].asJsonArray.map { it.asJsonObject }
            .filter { it["entity"].asString == "checkpoint" }
            .associate { it["id"].asString to it["data"].asJsonObject["qr_token"].asString }
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
        dir.deleteRecursively()
    }
}

/** A real JPEG as a phone camera hands it over; [tint] makes each picture different. */
fun jpeg(tint: Int = 77): ByteArray {
    val img = BufferedImage(800, 600, BufferedImage.TYPE_INT_RGB)
    for (y in 0 until 600) {
        for (x in 0 until 800) img.setRGB(x, y, Color(x % 256, y % 256, tint % 256).rgb)
    }
    val out = ByteArrayOutputStream()
    check(ImageIO.write(img, "jpg", out)) { "no JPEG writer" }
    return out.toByteArray()
}
