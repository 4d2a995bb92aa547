package app.patrol.android.ui.components

import android.graphics.Bitmap
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.background
import androidx.compose.foundation.border
import androidx.compose.foundation.gestures.detectDragGestures
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material3.MaterialTheme
import androidx.compose.runtime.Composable
import androidx.compose.runtime.Stable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateListOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.clip
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.Path
import androidx.compose.ui.graphics.StrokeCap
import androidx.compose.ui.graphics.StrokeJoin
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.input.pointer.pointerInput
import androidx.compose.ui.layout.onSizeChanged
import androidx.compose.ui.platform.LocalDensity
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.unit.IntSize
import androidx.compose.ui.unit.dp
import java.io.ByteArrayOutputStream

/** The strokes drawn on a [SignaturePad], in the pad's pixels. */
@Stable
class SignaturePadState {
    /** Finished strokes. */
    val strokes = mutableStateListOf<List<Offset>>()

    /** The stroke under the finger. */
    var current: List<Offset> by mutableStateOf(emptyList())
        private set

    /** The pad's size in pixels, once laid out. */
    var size: IntSize by mutableStateOf(IntSize.Zero)
        internal set

    val isEmpty: Boolean
        get() = strokes.isEmpty() && current.isEmpty()

    fun clear() {
        strokes.clear()
        current = emptyList()
    }

    internal fun begin(at: Offset) {
        current = listOf(at)
    }

    internal fun extend(to: Offset) {
        current = current + to
    }

    internal fun end() {
        if (current.size > 1) strokes.add(current)
        current = emptyList()
    }

    /**
     * The signature as a PNG: black strokes of [strokeWidthPx] on white, at the pad's size.
     * Returns null while the pad is empty or not laid out.
     */
    fun toPng(strokeWidthPx: Float): ByteArray? {
        val drawn = strokes.toList()
        if (drawn.isEmpty() || size.width <= 0 || size.height <= 0) return null
        val bitmap = Bitmap.createBitmap(size.width, size.height, Bitmap.Config.ARGB_8888)
        try {
            val canvas = android.graphics.Canvas(bitmap)
            canvas.drawColor(android.graphics.Color.WHITE)
            val paint = android.graphics.Paint().apply {
                color = android.graphics.Color.BLACK
                style = android.graphics.Paint.Style.STROKE
                strokeWidth = strokeWidthPx
                strokeCap = android.graphics.Paint.Cap.ROUND
                strokeJoin = android.graphics.Paint.Join.ROUND
                isAntiAlias = true
            }
            for (stroke in drawn) {
                val path = android.graphics.Path()
                path.moveTo(stroke.first().x, stroke.first().y)
                for (point in stroke.drop(1)) path.lineTo(point.x, point.y)
                canvas.drawPath(path, paint)
            }
            val out = ByteArrayOutputStream()
            bitmap.compress(Bitmap.CompressFormat.PNG, 100, out)
            return out.toByteArray()
        } finally {
            bitmap.recycle()
        }
    }
}

@Composable
fun rememberSignaturePadState(): SignaturePadState = remember { SignaturePadState() }

/** The width signatures are drawn (and saved) with. */
@Composable
fun signatureStrokeWidthPx(): Float = with(LocalDensity.current) { 3.dp.toPx() }

/** A white pad to sign on with a finger. */
@Composable
fun SignaturePad(state: SignaturePadState, description: String, modifier: Modifier = Modifier) {
    val ink = Color.Black
    val strokeWidth = signatureStrokeWidthPx()
    val shape = RoundedCornerShape(12.dp)
    Canvas(
        modifier = modifier
            .clip(shape)
            .background(Color.White)
            .border(1.dp, MaterialTheme.colorScheme.outline, shape)
            .semantics { contentDescription = description }
            .onSizeChanged { state.size = it }
            .pointerInput(state) {
                detectDragGestures(
                    onDragStart = { state.begin(it) },
                    onDragEnd = { state.end() },
                    onDragCancel = { state.end() },
                    onDrag = { change, _ ->
                        change.consume()
                        state.extend(change.position)
                    },
                )
            },
    ) {
        val style = Stroke(width = strokeWidth, cap = StrokeCap.Round, join = StrokeJoin.Round)
        for (stroke in state.strokes + listOf(state.current)) {
            if (stroke.size < 2) continue
            val path = Path()
            path.moveTo(stroke.first().x, stroke.first().y)
            for (point in stroke.drop(1)) path.lineTo(point.x, point.y)
            drawPath(path = path, color = ink, style = style)
        }
    }
}
