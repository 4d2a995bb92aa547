package app.patrol.android.ui.components

import android.Manifest
import android.content.ActivityNotFoundException
import android.content.Context
import android.content.pm.PackageManager
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.background
import androidx.compose.foundation.horizontalScroll
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.shape.CircleShape
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.AddAPhoto
import androidx.compose.material.icons.filled.Close
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.produceState
import androidx.compose.runtime.rememberUpdatedState
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.clip
import androidx.compose.ui.layout.ContentScale
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.Dp
import androidx.compose.ui.unit.dp
import androidx.core.content.ContextCompat
import androidx.core.content.FileProvider
import app.patrol.android.PatrolApplication
import app.patrol.android.R
import app.patrol.kit.PatrolRepository
import app.patrol.kit.ffi.PatrolException
import coil.compose.AsyncImage
import java.io.File

/** The repository the application holds, for composables that only read from it. */
@Composable
fun rememberPatrolRepository(): PatrolRepository {
    val context = LocalContext.current
    return (context.applicationContext as PatrolApplication).repository
}

/** A kept photo's thumbnail, loaded by Coil from the engine's photo folder. */
@Composable
fun PhotoThumb(photoId: String, modifier: Modifier = Modifier, size: Dp = 72.dp) {
    val repo: PatrolRepository = rememberPatrolRepository()
    val file by produceState<File?>(initialValue = null, photoId) {
        value = try {
            repo.photoFile(photoId, thumbnail = true)
        } catch (e: PatrolException) {
            null
        }
    }
    Box(
        modifier = modifier
            .size(size)
            .clip(RoundedCornerShape(8.dp))
            .background(MaterialTheme.colorScheme.surfaceVariant),
        contentAlignment = Alignment.Center,
    ) {
        val photo = file
        if (photo == null) {
            CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp)
        } else {
            AsyncImage(
                model = photo,
                contentDescription = stringResource(R.string.cd_photo),
                contentScale = ContentScale.Crop,
                modifier = Modifier.size(size),
            )
        }
    }
}

/**
 * The photos taken so far, each removable, and a button to take another.
 * [busy] shows while a picture is being kept.
 */
@Composable
fun PhotoStrip(
    photos: List<String>,
    onAdd: () -> Unit,
    onRemove: (String) -> Unit,
    modifier: Modifier = Modifier,
    busy: Boolean = false,
    enabled: Boolean = true,
) {
    Row(
        modifier = modifier.horizontalScroll(rememberScrollState()),
        horizontalArrangement = Arrangement.spacedBy(8.dp),
        verticalAlignment = Alignment.CenterVertically,
    ) {
        for (photoId in photos) {
            Box {
                PhotoThumb(photoId)
                IconButton(
                    onClick = { onRemove(photoId) },
                    enabled = enabled,
                    modifier = Modifier
                        .align(Alignment.TopEnd)
                        .padding(2.dp)
                        .size(24.dp)
                        .clip(CircleShape)
                        .background(MaterialTheme.colorScheme.surface.copy(alpha = 0.8f)),
                ) {
                    Icon(
                        imageVector = Icons.Filled.Close,
                        contentDescription = stringResource(R.string.cd_remove_photo),
                        modifier = Modifier.size(16.dp),
                    )
                }
            }
        }
        if (busy) {
            Box(modifier = Modifier.size(72.dp), contentAlignment = Alignment.Center) {
                CircularProgressIndicator(modifier = Modifier.size(24.dp), strokeWidth = 2.dp)
            }
        }
        OutlinedButton(onClick = onAdd, enabled = enabled && !busy) {
            Icon(
                imageVector = Icons.Filled.AddAPhoto,
                contentDescription = null,
                modifier = Modifier.padding(end = 8.dp).size(18.dp),
            )
            Text(stringResource(R.string.action_take_photo))
        }
    }
}

/** Starts the camera app; the picture arrives through the callback given to [rememberPhotoCapture]. */
class PhotoCapture internal constructor(private val start: () -> Unit) {
    fun launch() = start()
}

/**
 * Take a picture with the phone's camera app into the app's cache (through the FileProvider),
 * asking for the camera permission first when needed. [onCaptured] gets the JPEG file, which
 * its receiver deletes once the engine has kept it; [onFailed] gets a sentence to show.
 */
@Composable
fun rememberPhotoCapture(onCaptured: (File) -> Unit, onFailed: (String) -> Unit): PhotoCapture {
    val context = LocalContext.current
    val currentOnCaptured by rememberUpdatedState(onCaptured)
    val currentOnFailed by rememberUpdatedState(onFailed)
    var pendingPath by rememberSaveable { mutableStateOf<String?>(null) }
    val noCameraApp = stringResource(R.string.error_no_camera_app)
    val permissionDenied = stringResource(R.string.error_camera_permission)

    val takePicture = rememberLauncherForActivityResult(ActivityResultContracts.TakePicture()) { saved ->
        val path = pendingPath
        pendingPath = null
        if (path != null) {
            val file = File(path)
            if (saved && file.length() > 0L) currentOnCaptured(file) else file.delete()
        }
    }

    fun startCamera() {
        val file = newCameraFile(context)
        val uri = FileProvider.getUriForFile(context, "${context.packageName}.fileprovider", file)
        pendingPath = file.path
        try {
            takePicture.launch(uri)
        } catch (e: ActivityNotFoundException) {
            pendingPath = null
            file.delete()
            currentOnFailed(noCameraApp)
        }
    }

    val askPermission = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else currentOnFailed(permissionDenied)
    }

    return PhotoCapture {
        if (hasCameraPermission(context)) startCamera() else askPermission.launch(Manifest.permission.CAMERA)
    }
}

fun hasCameraPermission(context: Context): Boolean =
    ContextCompat.checkSelfPermission(context, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED

private fun newCameraFile(context: Context): File {
    val dir = File(context.cacheDir, "camera").apply { mkdirs() }
    return File.createTempFile("photo-", ".jpg", dir)
}
