package app.patrol.android.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.ExperimentalLayoutApi
import androidx.compose.foundation.layout.FlowRow
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material.icons.filled.CheckCircle
import androidx.compose.material.icons.filled.Flag
import androidx.compose.material.icons.filled.Place
import androidx.compose.material.icons.filled.QrCodeScanner
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.ExtendedFloatingActionButton
import androidx.compose.material3.FilterChip
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateMapOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import app.patrol.android.R
import app.patrol.android.ui.components.ErrorState
import app.patrol.android.ui.components.LoadingState
import app.patrol.android.viewmodel.RoundEvent
import app.patrol.android.viewmodel.RoundUiState
import app.patrol.android.viewmodel.RoundViewModel
import app.patrol.kit.ffi.Place
import app.patrol.kit.ffi.Progress

/** A round under way: progress, the checkpoints still to visit, scanning, finishing. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun RoundScreen(
    onBack: () -> Unit,
    onScan: (runId: String) -> Unit,
    onOpenVisit: (visitId: String) -> Unit,
    onFinished: () -> Unit,
    viewModel: RoundViewModel = viewModel(),
) {
    val state: RoundUiState by viewModel.state.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }
    var noLabelFor by remember { mutableStateOf<Place?>(null) }
    var finishing by rememberSaveable { mutableStateOf(false) }

    LaunchedEffect(Unit) {
        // Shown again after each visit: read how far the round has got.
        viewModel.refresh()
    }
    LaunchedEffect(viewModel) {
        viewModel.events.collect { event ->
            when (event) {
                is RoundEvent.OpenVisit -> {
                    noLabelFor = null
                    onOpenVisit(event.visitId)
                }
                RoundEvent.Finished -> {
                    finishing = false
                    onFinished()
                }
            }
        }
    }
    LaunchedEffect(state.message) {
        val message = state.message ?: return@LaunchedEffect
        snackbar.showSnackbar(message)
        viewModel.messageShown()
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(viewModel.routeName.ifBlank { stringResource(R.string.round_title) }) },
                navigationIcon = {
                    IconButton(onClick = onBack) {
                        Icon(Icons.AutoMirrored.Filled.ArrowBack, contentDescription = stringResource(R.string.cd_back))
                    }
                },
                actions = {
                    TextButton(onClick = { finishing = true }, enabled = state.progress != null && !state.busy) {
                        Text(stringResource(R.string.round_finish))
                    }
                },
            )
        },
        floatingActionButton = {
            if (state.progress != null) {
                ExtendedFloatingActionButton(
                    onClick = { onScan(viewModel.runId) },
                    icon = { Icon(Icons.Filled.QrCodeScanner, contentDescription = null) },
                    text = { Text(stringResource(R.string.round_scan)) },
                )
            }
        },
        snackbarHost = { SnackbarHost(snackbar) },
    ) { padding ->
        val progress: Progress? = state.progress
        val error = state.error
        when {
            progress == null && error != null ->
                ErrorState(message = error, onRetry = viewModel::refresh, modifier = Modifier.padding(padding))
            progress == null -> LoadingState(modifier = Modifier.padding(padding))
            else -> LazyColumn(
                modifier = Modifier.fillMaxSize().padding(padding),
                // Room below the last row for the scan button.
                contentPadding = PaddingValues(start = 16.dp, end = 16.dp, top = 8.dp, bottom = 96.dp),
                verticalArrangement = Arrangement.spacedBy(8.dp),
            ) {
                item { ProgressCard(progress) }
                if (progress.remaining.isEmpty()) {
                    item { AllVisitedCard(onFinish = { finishing = true }, enabled = !state.busy) }
                } else {
                    item {
                        Text(
                            text = stringResource(R.string.round_remaining, progress.remaining.size),
                            style = MaterialTheme.typography.titleSmall,
                            modifier = Modifier.padding(top = 8.dp),
                        )
                    }
                    items(progress.remaining, key = { place: Place -> place.checkpointId }) { place: Place ->
                        Card(modifier = Modifier.fillMaxWidth()) {
                            ListItem(
                                headlineContent = { Text(place.name) },
                                leadingContent = {
                                    Icon(Icons.Filled.Place, contentDescription = stringResource(R.string.cd_checkpoint))
                                },
                                trailingContent = {
                                    TextButton(onClick = { noLabelFor = place }, enabled = !state.busy) {
                                        Text(stringResource(R.string.round_no_label))
                                    }
                                },
                            )
                        }
                    }
                }
            }
        }
    }

    val place = noLabelFor
    if (place != null) {
        NoLabelDialog(
            place = place,
            busy = state.busy,
            onConfirm = { reason -> viewModel.visitWithoutLabel(place, reason) },
            onDismiss = { noLabelFor = null },
        )
    }
    val progress = state.progress
    if (finishing && progress != null) {
        FinishRoundDialog(
            remaining = progress.remaining,
            busy = state.busy,
            onConfirm = { missed -> viewModel.finish(missed) },
            onDismiss = { finishing = false },
        )
    }
}

@Composable
private fun ProgressCard(progress: Progress) {
    val total = progress.total.toInt()
    val visited = progress.visited.toInt()
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(
                text = stringResource(R.string.round_progress, visited, total),
                style = MaterialTheme.typography.titleMedium,
            )
            LinearProgressIndicator(
                progress = { if (total == 0) 0f else visited.toFloat() / total.toFloat() },
                modifier = Modifier.fillMaxWidth().height(8.dp),
            )
            Text(
                text = stringResource(R.string.round_answers, progress.answered.toInt(), progress.faults.toInt()),
                style = MaterialTheme.typography.bodyMedium,
                color = if (progress.faults > 0u) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.onSurfaceVariant,
            )
        }
    }
}

@Composable
private fun AllVisitedCard(onFinish: () -> Unit, enabled: Boolean) {
    Card(
        modifier = Modifier.fillMaxWidth(),
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.primaryContainer),
    ) {
        Row(modifier = Modifier.padding(16.dp), verticalAlignment = Alignment.CenterVertically) {
            Icon(
                imageVector = Icons.Filled.CheckCircle,
                contentDescription = null,
                tint = MaterialTheme.colorScheme.primary,
            )
            Spacer(Modifier.width(12.dp))
            Text(
                text = stringResource(R.string.round_all_visited),
                style = MaterialTheme.typography.bodyLarge,
                modifier = Modifier.weight(1f),
            )
            TextButton(onClick = onFinish, enabled = enabled) {
                Text(stringResource(R.string.round_finish))
            }
        }
    }
}

/** Quick reasons for a checkpoint whose label cannot be scanned. */
@Composable
private fun noLabelReasons(): List<String> = listOf(
    stringResource(R.string.reason_label_damaged),
    stringResource(R.string.reason_label_missing),
    stringResource(R.string.reason_label_unreadable),
)

/** Quick reasons for a checkpoint left out of the round. */
@Composable
private fun missedReasons(): List<String> = listOf(
    stringResource(R.string.reason_area_closed),
    stringResource(R.string.reason_under_works),
    stringResource(R.string.reason_emergency),
)

@OptIn(ExperimentalMaterial3Api::class, ExperimentalLayoutApi::class)
@Composable
private fun ReasonField(
    reason: String,
    onReason: (String) -> Unit,
    presets: List<String>,
    label: String,
    enabled: Boolean,
) {
    Column(verticalArrangement = Arrangement.spacedBy(4.dp)) {
        FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            for (preset in presets) {
                FilterChip(
                    selected = reason == preset,
                    onClick = { onReason(preset) },
                    label = { Text(preset) },
                    enabled = enabled,
                )
            }
        }
        OutlinedTextField(
            value = reason,
            onValueChange = onReason,
            label = { Text(label) },
            enabled = enabled,
            modifier = Modifier.fillMaxWidth(),
        )
    }
}

@Composable
private fun NoLabelDialog(place: Place, busy: Boolean, onConfirm: (String) -> Unit, onDismiss: () -> Unit) {
    var reason by rememberSaveable(place.checkpointId) { mutableStateOf("") }
    AlertDialog(
        onDismissRequest = { if (!busy) onDismiss() },
        icon = { Icon(Icons.Filled.Place, contentDescription = null) },
        title = { Text(stringResource(R.string.no_label_title, place.name)) },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(12.dp)) {
                Text(stringResource(R.string.no_label_body))
                ReasonField(
                    reason = reason,
                    onReason = { reason = it },
                    presets = noLabelReasons(),
                    label = stringResource(R.string.reason_label),
                    enabled = !busy,
                )
            }
        },
        confirmButton = {
            TextButton(onClick = { onConfirm(reason) }, enabled = reason.isNotBlank() && !busy) {
                Text(stringResource(R.string.no_label_confirm))
            }
        },
        dismissButton = {
            TextButton(onClick = onDismiss, enabled = !busy) {
                Text(stringResource(R.string.action_cancel))
            }
        },
    )
}

@Composable
private fun FinishRoundDialog(
    remaining: List<Place>,
    busy: Boolean,
    onConfirm: (Map<String, String>) -> Unit,
    onDismiss: () -> Unit,
) {
    val reasons = remember { mutableStateMapOf<String, String>() }
    val complete = remaining.all { reasons[it.checkpointId].orEmpty().isNotBlank() }
    AlertDialog(
        onDismissRequest = { if (!busy) onDismiss() },
        icon = { Icon(Icons.Filled.Flag, contentDescription = null) },
        title = { Text(stringResource(R.string.finish_title)) },
        text = {
            Column(
                modifier = Modifier.verticalScroll(rememberScrollState()),
                verticalArrangement = Arrangement.spacedBy(12.dp),
            ) {
                if (remaining.isEmpty()) {
                    Text(stringResource(R.string.finish_all_visited))
                } else {
                    Text(stringResource(R.string.finish_missed_body, remaining.size))
                    for ((index, place) in remaining.withIndex()) {
                        if (index > 0) HorizontalDivider()
                        Text(place.name, style = MaterialTheme.typography.titleSmall)
                        ReasonField(
                            reason = reasons[place.checkpointId].orEmpty(),
                            onReason = { reasons[place.checkpointId] = it },
                            presets = missedReasons(),
                            label = stringResource(R.string.reason_label),
                            enabled = !busy,
                        )
                    }
                }
            }
        },
        confirmButton = {
            TextButton(
                onClick = { onConfirm(remaining.associate { it.checkpointId to reasons[it.checkpointId].orEmpty() }) },
                enabled = complete && !busy,
            ) {
                Text(stringResource(R.string.finish_confirm))
            }
        },
        dismissButton = {
            TextButton(onClick = onDismiss, enabled = !busy) {
                Text(stringResource(R.string.action_cancel))
            }
        },
    )
}
