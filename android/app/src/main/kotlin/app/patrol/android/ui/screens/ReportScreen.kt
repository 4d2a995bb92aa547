package app.patrol.android.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.ExperimentalLayoutApi
import androidx.compose.foundation.layout.FlowRow
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.imePadding
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material.icons.automirrored.filled.Send
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilterChip
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import app.patrol.android.R
import app.patrol.android.ui.components.CATEGORIES
import app.patrol.android.ui.components.PhotoStrip
import app.patrol.android.ui.components.SEVERITIES
import app.patrol.android.ui.components.categoryLabel
import app.patrol.android.ui.components.rememberPhotoCapture
import app.patrol.android.ui.components.severityLabel
import app.patrol.android.viewmodel.ReportUiState
import app.patrol.android.viewmodel.ReportViewModel
import app.patrol.kit.ffi.Severity
import kotlinx.coroutines.launch

/** Report a problem found at this checkpoint that its checklist does not ask about. */
@OptIn(ExperimentalMaterial3Api::class, ExperimentalLayoutApi::class)
@Composable
fun ReportScreen(
    onBack: () -> Unit,
    onSent: () -> Unit,
    viewModel: ReportViewModel = viewModel(),
) {
    val state: ReportUiState by viewModel.state.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }
    val scope = rememberCoroutineScope()
    val capture = rememberPhotoCapture(
        onCaptured = viewModel::addPhoto,
        onFailed = { message -> scope.launch { snackbar.showSnackbar(message) } },
    )

    LaunchedEffect(viewModel) {
        viewModel.sent.collect { onSent() }
    }
    LaunchedEffect(state.message) {
        val message = state.message ?: return@LaunchedEffect
        snackbar.showSnackbar(message)
        viewModel.messageShown()
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.report_title)) },
                navigationIcon = {
                    IconButton(onClick = onBack, enabled = !state.sending) {
                        Icon(Icons.AutoMirrored.Filled.ArrowBack, contentDescription = stringResource(R.string.cd_back))
                    }
                },
            )
        },
        snackbarHost = { SnackbarHost(snackbar) },
    ) { padding ->
        Column(
            modifier = Modifier
                .fillMaxSize()
                .padding(padding)
                .imePadding()
                .verticalScroll(rememberScrollState())
                .padding(16.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
        ) {
            Text(
                text = stringResource(R.string.report_intro),
                style = MaterialTheme.typography.bodyMedium,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
            OutlinedTextField(
                value = state.title,
                onValueChange = viewModel::setTitle,
                label = { Text(stringResource(R.string.report_field_title)) },
                placeholder = { Text(stringResource(R.string.report_title_placeholder)) },
                isError = state.titleMissing,
                singleLine = true,
                enabled = !state.sending,
                modifier = Modifier.fillMaxWidth(),
            )
            OutlinedTextField(
                value = state.note,
                onValueChange = viewModel::setNote,
                label = { Text(stringResource(R.string.report_field_note)) },
                minLines = 3,
                enabled = !state.sending,
                modifier = Modifier.fillMaxWidth(),
            )

            Text(stringResource(R.string.report_category), style = MaterialTheme.typography.titleSmall)
            FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                for (category in CATEGORIES) {
                    FilterChip(
                        selected = state.category == category,
                        onClick = { viewModel.setCategory(category) },
                        label = { Text(categoryLabel(category)) },
                        enabled = !state.sending,
                    )
                }
            }

            Text(stringResource(R.string.report_severity), style = MaterialTheme.typography.titleSmall)
            FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                for (severity in SEVERITIES) {
                    FilterChip(
                        selected = state.severity == severity,
                        onClick = { viewModel.setSeverity(severity) },
                        label = { Text(severityLabel(severity)) },
                        enabled = !state.sending,
                    )
                }
            }
            if (state.severity == Severity.URGENT) {
                Text(
                    text = stringResource(R.string.report_urgent_hint),
                    style = MaterialTheme.typography.bodySmall,
                    color = MaterialTheme.colorScheme.error,
                )
            }

            Text(stringResource(R.string.report_photos), style = MaterialTheme.typography.titleSmall)
            PhotoStrip(
                photos = state.photos,
                onAdd = { capture.launch() },
                onRemove = viewModel::removePhoto,
                busy = state.addingPhoto,
                enabled = !state.sending,
            )

            Row(verticalAlignment = Alignment.CenterVertically) {
                Column(modifier = Modifier.weight(1f)) {
                    Text(stringResource(R.string.report_fixed_on_spot), style = MaterialTheme.typography.bodyLarge)
                    Text(
                        text = stringResource(R.string.report_fixed_on_spot_hint),
                        style = MaterialTheme.typography.bodySmall,
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                }
                Switch(
                    checked = state.fixedOnSpot,
                    onCheckedChange = viewModel::setFixedOnSpot,
                    enabled = !state.sending,
                )
            }

            Button(
                onClick = viewModel::send,
                enabled = state.canSend,
                modifier = Modifier.fillMaxWidth().height(52.dp),
            ) {
                if (state.sending) {
                    CircularProgressIndicator(
                        modifier = Modifier.size(20.dp),
                        strokeWidth = 2.dp,
                        color = MaterialTheme.colorScheme.onPrimary,
                    )
                } else {
                    Icon(Icons.AutoMirrored.Filled.Send, contentDescription = null, modifier = Modifier.size(18.dp))
                    Spacer(Modifier.width(8.dp))
                    Text(stringResource(if (state.fixedOnSpot) R.string.report_record_fixed else R.string.report_send))
                }
            }
        }
    }
}
