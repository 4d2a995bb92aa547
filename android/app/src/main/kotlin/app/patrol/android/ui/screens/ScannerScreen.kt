package app.patrol.android.ui.screens

import android.Manifest
import android.content.Intent
import android.net.Uri
import android.provider.Settings
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.background
import androidx.compose.foundation.border
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material.icons.filled.CameraAlt
import androidx.compose.material.icons.filled.ErrorOutline
import androidx.compose.material.icons.filled.FlashOff
import androidx.compose.material.icons.filled.FlashOn
import androidx.compose.material.icons.filled.QrCodeScanner
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.LifecycleResumeEffect
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import app.patrol.android.R
import app.patrol.android.ui.camera.QrCameraPreview
import app.patrol.android.ui.components.hasCameraPermission
import app.patrol.android.viewmodel.ScannerState
import app.patrol.android.viewmodel.ScannerViewModel

/** Point the camera at a checkpoint's QR label; a good label opens the checklist. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun ScannerScreen(
    onBack: () -> Unit,
    onScanned: (visitId: String) -> Unit,
    viewModel: ScannerViewModel = viewModel(),
) {
    val context = LocalContext.current
    val state: ScannerState by viewModel.state.collectAsStateWithLifecycle()
    var granted by remember { mutableStateOf(hasCameraPermission(context)) }
    var asked by rememberSaveable { mutableStateOf(false) }
    var torchOn by rememberSaveable { mutableStateOf(false) }
    var cameraFailed by remember { mutableStateOf(false) }

    val permission = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { ok ->
        granted = ok
        asked = true
    }
    LaunchedEffect(Unit) {
        if (!granted && !asked) permission.launch(Manifest.permission.CAMERA)
    }
    LifecycleResumeEffect(Unit) {
        // Back from the system settings, where the camera may have been allowed.
        granted = hasCameraPermission(context)
        onPauseOrDispose { }
    }
    LaunchedEffect(viewModel) {
        viewModel.visitsToOpen.collect { visitId -> onScanned(visitId) }
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.scanner_title)) },
                navigationIcon = {
                    IconButton(onClick = onBack) {
                        Icon(Icons.AutoMirrored.Filled.ArrowBack, contentDescription = stringResource(R.string.cd_back))
                    }
                },
                actions = {
                    if (granted && !cameraFailed) {
                        IconButton(onClick = { torchOn = !torchOn }) {
                            Icon(
                                imageVector = if (torchOn) Icons.Filled.FlashOff else Icons.Filled.FlashOn,
                                contentDescription = stringResource(if (torchOn) R.string.cd_torch_off else R.string.cd_torch_on),
                            )
                        }
                    }
                },
            )
        },
    ) { padding ->
        Box(modifier = Modifier.fillMaxSize().padding(padding)) {
            when {
                !granted -> PermissionNeeded(
                    deniedBefore = asked,
                    onRequest = { permission.launch(Manifest.permission.CAMERA) },
                    onOpenSettings = {
                        context.startActivity(
                            Intent(Settings.ACTION_APPLICATION_DETAILS_SETTINGS, Uri.fromParts("package", context.packageName, null))
                                .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK),
                        )
                    },
                )
                cameraFailed -> CameraFailed(onBack = onBack)
                else -> {
                    QrCameraPreview(
                        active = state == ScannerState.Ready,
                        torchOn = torchOn,
                        onCode = viewModel::onCode,
                        onCameraError = { cameraFailed = true },
                        modifier = Modifier.fillMaxSize(),
                    )
                    Viewfinder(modifier = Modifier.align(Alignment.Center))
                    ScannerStatus(
                        state = state,
                        onScanAgain = viewModel::scanAgain,
                        modifier = Modifier.align(Alignment.BottomCenter).padding(16.dp),
                    )
                }
            }
        }
    }
}

@Composable
private fun Viewfinder(modifier: Modifier = Modifier) {
    Box(
        modifier = modifier
            .size(240.dp)
            .border(3.dp, Color.White.copy(alpha = 0.9f), RoundedCornerShape(20.dp)),
    )
}

@Composable
private fun ScannerStatus(state: ScannerState, onScanAgain: () -> Unit, modifier: Modifier = Modifier) {
    when (state) {
        ScannerState.Ready -> Text(
            text = stringResource(R.string.scanner_hint),
            color = Color.White,
            textAlign = TextAlign.Center,
            style = MaterialTheme.typography.bodyLarge,
            modifier = modifier
                .background(Color.Black.copy(alpha = 0.55f), RoundedCornerShape(12.dp))
                .padding(horizontal = 16.dp, vertical = 10.dp),
        )
        ScannerState.Checking -> Row(
            modifier = modifier
                .background(Color.Black.copy(alpha = 0.55f), RoundedCornerShape(12.dp))
                .padding(horizontal = 16.dp, vertical = 10.dp),
            verticalAlignment = Alignment.CenterVertically,
        ) {
            CircularProgressIndicator(modifier = Modifier.size(20.dp), strokeWidth = 2.dp, color = Color.White)
            Spacer(Modifier.width(12.dp))
            Text(stringResource(R.string.scanner_checking), color = Color.White)
        }
        is ScannerState.Rejected -> Card(
            modifier = modifier.fillMaxWidth(),
            colors = CardDefaults.cardColors(
                containerColor = MaterialTheme.colorScheme.errorContainer,
                contentColor = MaterialTheme.colorScheme.onErrorContainer,
            ),
        ) {
            Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Icon(Icons.Filled.ErrorOutline, contentDescription = stringResource(R.string.cd_error))
                    Spacer(Modifier.width(8.dp))
                    Text(
                        text = stringResource(
                            if (state.isLabelError) R.string.scanner_bad_label else R.string.scanner_refused,
                        ),
                        style = MaterialTheme.typography.titleMedium,
                    )
                }
                Text(state.message, style = MaterialTheme.typography.bodyMedium)
                if (state.isLabelError) {
                    Text(stringResource(R.string.scanner_bad_label_hint), style = MaterialTheme.typography.bodySmall)
                }
                Button(onClick = onScanAgain, modifier = Modifier.align(Alignment.End)) {
                    Icon(Icons.Filled.QrCodeScanner, contentDescription = null, modifier = Modifier.size(18.dp))
                    Spacer(Modifier.width(8.dp))
                    Text(stringResource(R.string.scanner_scan_again))
                }
            }
        }
    }
}

@Composable
private fun PermissionNeeded(deniedBefore: Boolean, onRequest: () -> Unit, onOpenSettings: () -> Unit) {
    Column(
        modifier = Modifier.fillMaxSize().padding(32.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp, Alignment.CenterVertically),
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Icon(
            imageVector = Icons.Filled.CameraAlt,
            contentDescription = null,
            modifier = Modifier.size(56.dp),
            tint = MaterialTheme.colorScheme.primary,
        )
        Text(
            text = stringResource(R.string.scanner_permission_title),
            style = MaterialTheme.typography.titleMedium,
            textAlign = TextAlign.Center,
        )
        Text(
            text = stringResource(R.string.scanner_permission_body),
            style = MaterialTheme.typography.bodyMedium,
            textAlign = TextAlign.Center,
        )
        Button(onClick = onRequest) {
            Text(stringResource(R.string.scanner_permission_grant))
        }
        if (deniedBefore) {
            OutlinedButton(onClick = onOpenSettings) {
                Text(stringResource(R.string.scanner_permission_settings))
            }
        }
    }
}

@Composable
private fun CameraFailed(onBack: () -> Unit) {
    Column(
        modifier = Modifier.fillMaxSize().padding(32.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp, Alignment.CenterVertically),
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Icon(
            imageVector = Icons.Filled.ErrorOutline,
            contentDescription = stringResource(R.string.cd_error),
            modifier = Modifier.size(56.dp),
            tint = MaterialTheme.colorScheme.error,
        )
        Text(
            text = stringResource(R.string.scanner_camera_failed),
            style = MaterialTheme.typography.bodyLarge,
            textAlign = TextAlign.Center,
        )
        Button(onClick = onBack) {
            Text(stringResource(R.string.scanner_back_to_round))
        }
    }
}
