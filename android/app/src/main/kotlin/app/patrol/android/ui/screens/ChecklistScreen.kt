package app.patrol.android.ui.screens

import androidx.activity.compose.BackHandler
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.imePadding
import androidx.compose.foundation.layout.navigationBarsPadding
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material.icons.filled.Build
import androidx.compose.material.icons.filled.CheckCircle
import androidx.compose.material.icons.filled.Report
import androidx.compose.material.icons.filled.Warning
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilterChip
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Surface
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.ImeAction
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import app.patrol.android.R
import app.patrol.android.ui.components.EmptyState
import app.patrol.android.ui.components.PhotoStrip
import app.patrol.android.ui.components.Tag
import app.patrol.android.ui.components.itemText
import app.patrol.android.ui.components.methodLabel
import app.patrol.android.ui.components.rememberPhotoCapture
import app.patrol.android.viewmodel.ChecklistUiState
import app.patrol.android.viewmodel.ChecklistViewModel
import app.patrol.android.viewmodel.ItemDraft
import app.patrol.kit.ffi.ChecklistItem
import app.patrol.kit.ffi.ItemKind
import app.patrol.kit.ffi.Outcome
import app.patrol.kit.ffi.Scan
import app.patrol.kit.ffi.ScanFlag
import kotlinx.coroutines.launch

/** The checklist of the checkpoint just visited. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun ChecklistScreen(
    onDone: () -> Unit,
    onReportOther: (visitId: String) -> Unit,
    viewModel: ChecklistViewModel = viewModel(),
) {
    val state: ChecklistUiState by viewModel.state.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }
    val scope = rememberCoroutineScope()
    var photoTarget by rememberSaveable { mutableStateOf<String?>(null) }
    var reportAsFixed by rememberSaveable { mutableStateOf(false) }
    var confirmLeave by rememberSaveable { mutableStateOf(false) }

    val capture = rememberPhotoCapture(
        onCaptured = { file ->
            val key = photoTarget
            photoTarget = null
            if (key != null) viewModel.addPhoto(key, file) else file.delete()
        },
        onFailed = { message ->
            photoTarget = null
            scope.launch { snackbar.showSnackbar(message) }
        },
    )

    fun leave() {
        if (state.scan != null && state.unanswered > 0) {
            confirmLeave = true
        } else {
            viewModel.close()
            onDone()
        }
    }

    BackHandler { leave() }

    LaunchedEffect(state.message) {
        val message = state.message ?: return@LaunchedEffect
        snackbar.showSnackbar(message)
        viewModel.messageShown()
    }

    val scan: Scan? = state.scan
    Scaffold(
        topBar = {
            TopAppBar(
                title = {
                    Column {
                        Text(scan?.checkpointName ?: stringResource(R.string.checklist_title))
                        if (scan != null) {
                            Text(
                                text = scan.zoneName,
                                style = MaterialTheme.typography.bodySmall,
                                color = MaterialTheme.colorScheme.onSurfaceVariant,
                            )
                        }
                    }
                },
                navigationIcon = {
                    IconButton(onClick = { leave() }) {
                        Icon(Icons.AutoMirrored.Filled.ArrowBack, contentDescription = stringResource(R.string.cd_back))
                    }
                },
                actions = {
                    if (scan != null) {
                        IconButton(onClick = { onReportOther(viewModel.visitId) }) {
                            Icon(Icons.Filled.Report, contentDescription = stringResource(R.string.checklist_report_other))
                        }
                    }
                },
            )
        },
        bottomBar = {
            if (scan != null) {
                Surface(tonalElevation = 3.dp) {
                    Row(
                        modifier = Modifier.fillMaxWidth().navigationBarsPadding().padding(16.dp),
                        verticalAlignment = Alignment.CenterVertically,
                    ) {
                        Text(
                            text = if (state.unanswered == 0) {
                                stringResource(R.string.checklist_all_answered)
                            } else {
                                stringResource(R.string.checklist_unanswered, state.unanswered)
                            },
                            style = MaterialTheme.typography.bodyMedium,
                            modifier = Modifier.weight(1f),
                        )
                        Button(onClick = { leave() }) {
                            Text(stringResource(R.string.checklist_done))
                        }
                    }
                }
            }
        },
        snackbarHost = { SnackbarHost(snackbar) },
    ) { padding ->
        if (scan == null) {
            EmptyState(
                icon = Icons.Filled.Warning,
                title = stringResource(R.string.checklist_missing_title),
                body = stringResource(R.string.checklist_missing_body),
                modifier = Modifier.padding(padding),
                action = {
                    Button(onClick = onDone) { Text(stringResource(R.string.scanner_back_to_round)) }
                },
            )
        } else {
            LazyColumn(
                modifier = Modifier.fillMaxSize().padding(padding).imePadding(),
                contentPadding = PaddingValues(16.dp),
                verticalArrangement = Arrangement.spacedBy(12.dp),
            ) {
                if (scan.flags.isNotEmpty()) {
                    item { FlagsCard(scan.flags) }
                }
                if (state.drafts.isEmpty()) {
                    item {
                        Text(
                            text = stringResource(R.string.checklist_no_items),
                            style = MaterialTheme.typography.bodyLarge,
                            modifier = Modifier.padding(vertical = 24.dp),
                        )
                    }
                }
                items(state.drafts, key = { draft: ItemDraft -> draft.item.key }) { draft: ItemDraft ->
                    ItemCard(
                        draft = draft,
                        onOutcome = { viewModel.setOutcome(draft.item.key, it) },
                        onReading = { viewModel.setReading(draft.item.key, it) },
                        onText = { viewModel.setText(draft.item.key, it) },
                        onNote = { viewModel.setNote(draft.item.key, it) },
                        onAddPhoto = {
                            photoTarget = draft.item.key
                            capture.launch()
                        },
                        onRemovePhoto = { viewModel.removePhoto(draft.item.key, it) },
                        onSave = { viewModel.save(draft.item.key) },
                        onReport = { fixed ->
                            reportAsFixed = fixed
                            viewModel.startReport(draft.item.key)
                        },
                    )
                }
            }
        }
    }

    val reportingKey = state.reporting
    val reportingDraft = state.drafts.firstOrNull { it.item.key == reportingKey }
    if (scan != null && reportingDraft != null) {
        ReportFaultDialog(
            checkpointName = scan.checkpointName,
            draft = reportingDraft,
            fixedInitially = reportAsFixed,
            onConfirm = { title, note, fixed -> viewModel.report(reportingDraft.item.key, title, note, fixed) },
            onDismiss = viewModel::cancelReport,
        )
    }

    if (confirmLeave) {
        AlertDialog(
            onDismissRequest = { confirmLeave = false },
            title = { Text(stringResource(R.string.checklist_leave_title)) },
            text = { Text(stringResource(R.string.checklist_leave_body, state.unanswered)) },
            confirmButton = {
                TextButton(onClick = {
                    confirmLeave = false
                    viewModel.close()
                    onDone()
                }) {
                    Text(stringResource(R.string.checklist_leave_confirm))
                }
            },
            dismissButton = {
                TextButton(onClick = { confirmLeave = false }) {
                    Text(stringResource(R.string.checklist_leave_stay))
                }
            },
        )
    }
}

/** The engine's plausibility flags for this scan: shown, never blocking. */
@Composable
private fun FlagsCard(flags: List<ScanFlag>) {
    Card(
        modifier = Modifier.fillMaxWidth(),
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.tertiaryContainer),
    ) {
        Row(modifier = Modifier.padding(16.dp)) {
            Icon(Icons.Filled.Warning, contentDescription = stringResource(R.string.cd_warning))
            Spacer(Modifier.width(12.dp))
            Column(verticalArrangement = Arrangement.spacedBy(4.dp)) {
                for (flag in flags) {
                    Text(flagText(flag), style = MaterialTheme.typography.bodyMedium)
                }
                Text(
                    text = stringResource(R.string.flag_footer),
                    style = MaterialTheme.typography.bodySmall,
                )
            }
        }
    }
}

@Composable
private fun flagText(flag: ScanFlag): String = when (flag) {
    is ScanFlag.TooFast -> stringResource(R.string.flag_too_fast)
    is ScanFlag.RepeatScan -> stringResource(R.string.flag_repeat_scan)
    is ScanFlag.RoundTooShort -> stringResource(R.string.flag_round_too_short)
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
private fun ItemCard(
    draft: ItemDraft,
    onOutcome: (Outcome) -> Unit,
    onReading: (String) -> Unit,
    onText: (String) -> Unit,
    onNote: (String) -> Unit,
    onAddPhoto: () -> Unit,
    onRemovePhoto: (String) -> Unit,
    onSave: () -> Unit,
    onReport: (fixedOnSpot: Boolean) -> Unit,
) {
    val item: ChecklistItem = draft.item
    var noteOpen by rememberSaveable(item.key) { mutableStateOf(false) }
    val editable = !draft.saving && draft.reported == null
    val faultColor = MaterialTheme.colorScheme.error

    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(10.dp)) {
            Text(itemText(item), style = MaterialTheme.typography.titleMedium)
            val hint = item.hintZh?.takeIf { it.isNotBlank() }
            Text(
                text = listOfNotNull(methodLabel(item.method), hint).joinToString(" · "),
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )

            when (item.kind) {
                ItemKind.READING -> ReadingField(draft = draft, enabled = editable, onReading = onReading)
                ItemKind.TEXT -> OutlinedTextField(
                    value = draft.text,
                    onValueChange = onText,
                    label = { Text(stringResource(R.string.checklist_text_answer)) },
                    enabled = editable,
                    minLines = 2,
                    modifier = Modifier.fillMaxWidth(),
                )
                ItemKind.CHECK -> OutcomeChoice(selected = draft.outcome, enabled = editable, onOutcome = onOutcome)
            }

            if (item.kind != ItemKind.TEXT) {
                if (draft.looksFaulty || draft.note.isNotEmpty() || noteOpen) {
                    OutlinedTextField(
                        value = draft.note,
                        onValueChange = onNote,
                        label = { Text(stringResource(R.string.checklist_note)) },
                        enabled = editable,
                        modifier = Modifier.fillMaxWidth(),
                    )
                } else {
                    TextButton(onClick = { noteOpen = true }, enabled = editable) {
                        Text(stringResource(R.string.checklist_add_note))
                    }
                }
            }

            if (draft.looksFaulty || draft.photos.isNotEmpty() || draft.saved == Outcome.FAULT) {
                PhotoStrip(
                    photos = draft.photos,
                    onAdd = onAddPhoto,
                    onRemove = onRemovePhoto,
                    busy = draft.addingPhoto,
                    enabled = editable,
                )
                if (draft.needsPhoto) {
                    Text(
                        text = stringResource(R.string.checklist_photo_required),
                        style = MaterialTheme.typography.bodySmall,
                        color = faultColor,
                    )
                }
            }

            Row(verticalAlignment = Alignment.CenterVertically) {
                SavedStatus(draft = draft, modifier = Modifier.weight(1f))
                if (draft.reported == null) {
                    Button(onClick = onSave, enabled = draft.canSave) {
                        if (draft.saving) {
                            CircularProgressIndicator(
                                modifier = Modifier.size(18.dp),
                                strokeWidth = 2.dp,
                                color = MaterialTheme.colorScheme.onPrimary,
                            )
                        } else {
                            Text(stringResource(if (draft.saved == null) R.string.action_save else R.string.action_update))
                        }
                    }
                }
            }

            if (draft.canReport) {
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    Button(onClick = { onReport(false) }, enabled = !draft.saving) {
                        Icon(Icons.Filled.Report, contentDescription = null, modifier = Modifier.size(18.dp))
                        Spacer(Modifier.width(6.dp))
                        Text(stringResource(R.string.checklist_report_fault))
                    }
                    OutlinedButton(onClick = { onReport(true) }, enabled = !draft.saving) {
                        Icon(Icons.Filled.Build, contentDescription = null, modifier = Modifier.size(18.dp))
                        Spacer(Modifier.width(6.dp))
                        Text(stringResource(R.string.checklist_fixed_on_spot))
                    }
                }
            }
        }
    }
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
private fun OutcomeChoice(selected: Outcome?, enabled: Boolean, onOutcome: (Outcome) -> Unit) {
    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
        for (outcome in listOf(Outcome.OK, Outcome.FAULT, Outcome.NA)) {
            FilterChip(
                selected = selected == outcome,
                onClick = { onOutcome(outcome) },
                enabled = enabled,
                label = { Text(outcomeLabel(outcome)) },
            )
        }
    }
}

@Composable
private fun outcomeLabel(outcome: Outcome): String = when (outcome) {
    Outcome.OK -> stringResource(R.string.outcome_ok)
    Outcome.FAULT -> stringResource(R.string.outcome_fault)
    Outcome.NA -> stringResource(R.string.outcome_na)
}

@Composable
private fun ReadingField(draft: ItemDraft, enabled: Boolean, onReading: (String) -> Unit) {
    val item: ChecklistItem = draft.item
    val unit = item.unit.orEmpty()
    val min = item.normalMin
    val max = item.normalMax
    val range = when {
        min != null && max != null -> stringResource(R.string.checklist_range_between, formatNumber(min), formatNumber(max), unit)
        min != null -> stringResource(R.string.checklist_range_at_least, formatNumber(min), unit)
        max != null -> stringResource(R.string.checklist_range_at_most, formatNumber(max), unit)
        else -> null
    }
    val invalid = draft.reading.isNotBlank() && draft.readingValue == null
    OutlinedTextField(
        value = draft.reading,
        onValueChange = onReading,
        label = { Text(stringResource(R.string.checklist_reading)) },
        suffix = if (unit.isNotEmpty()) {
            { Text(unit) }
        } else {
            null
        },
        singleLine = true,
        enabled = enabled,
        isError = invalid || draft.readingOutOfRange,
        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Decimal, imeAction = ImeAction.Done),
        supportingText = {
            Text(
                when {
                    invalid -> stringResource(R.string.checklist_reading_invalid)
                    draft.readingOutOfRange -> stringResource(R.string.checklist_reading_out_of_range) +
                        (range?.let { " · $it" } ?: "")
                    range != null -> range
                    else -> stringResource(R.string.checklist_reading_no_range)
                },
            )
        },
        modifier = Modifier.fillMaxWidth(),
    )
}

private fun formatNumber(value: Double): String =
    if (value == Math.floor(value) && !value.isInfinite()) value.toLong().toString() else value.toString()

@Composable
private fun SavedStatus(draft: ItemDraft, modifier: Modifier = Modifier) {
    val reported = draft.reported
    val saved: Outcome? = draft.saved
    Row(modifier = modifier, verticalAlignment = Alignment.CenterVertically) {
        when {
            reported != null -> Tag(
                text = stringResource(if (draft.reportedFixed) R.string.checklist_fixed_recorded else R.string.checklist_reported),
                container = MaterialTheme.colorScheme.secondaryContainer,
                content = MaterialTheme.colorScheme.onSecondaryContainer,
            )
            saved != null && !draft.dirty -> {
                val fault = saved == Outcome.FAULT
                Icon(
                    imageVector = if (fault) Icons.Filled.Warning else Icons.Filled.CheckCircle,
                    contentDescription = null,
                    tint = if (fault) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.primary,
                    modifier = Modifier.size(18.dp),
                )
                Spacer(Modifier.width(6.dp))
                Text(
                    text = stringResource(R.string.checklist_saved_as, outcomeLabel(saved)),
                    style = MaterialTheme.typography.bodyMedium,
                )
            }
            saved != null -> Text(
                text = stringResource(R.string.checklist_changed),
                style = MaterialTheme.typography.bodyMedium,
                color = MaterialTheme.colorScheme.tertiary,
            )
            else -> Text(
                text = stringResource(R.string.checklist_not_saved),
                style = MaterialTheme.typography.bodyMedium,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
        }
    }
}

@Composable
private fun ReportFaultDialog(
    checkpointName: String,
    draft: ItemDraft,
    fixedInitially: Boolean,
    onConfirm: (title: String, note: String, fixedOnSpot: Boolean) -> Unit,
    onDismiss: () -> Unit,
) {
    val question = itemText(draft.item)
    var title by rememberSaveable(draft.item.key) { mutableStateOf("$checkpointName：$question") }
    var note by rememberSaveable(draft.item.key) { mutableStateOf(draft.note) }
    var fixed by rememberSaveable(draft.item.key) { mutableStateOf(fixedInitially) }
    AlertDialog(
        onDismissRequest = onDismiss,
        icon = { Icon(if (fixed) Icons.Filled.Build else Icons.Filled.Report, contentDescription = null) },
        title = { Text(stringResource(if (fixed) R.string.report_fixed_title else R.string.report_fault_title)) },
        text = {
            Column(
                modifier = Modifier.verticalScroll(rememberScrollState()),
                verticalArrangement = Arrangement.spacedBy(12.dp),
            ) {
                OutlinedTextField(
                    value = title,
                    onValueChange = { title = it },
                    label = { Text(stringResource(R.string.report_field_title)) },
                    isError = title.isBlank(),
                    modifier = Modifier.fillMaxWidth(),
                )
                OutlinedTextField(
                    value = note,
                    onValueChange = { note = it },
                    label = { Text(stringResource(R.string.report_field_note)) },
                    minLines = 2,
                    modifier = Modifier.fillMaxWidth(),
                )
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Column(modifier = Modifier.weight(1f)) {
                        Text(stringResource(R.string.report_fixed_on_spot), style = MaterialTheme.typography.bodyLarge)
                        Text(
                            stringResource(R.string.report_fixed_on_spot_hint),
                            style = MaterialTheme.typography.bodySmall,
                            color = MaterialTheme.colorScheme.onSurfaceVariant,
                        )
                    }
                    Switch(checked = fixed, onCheckedChange = { fixed = it })
                }
                if (draft.photos.isNotEmpty()) {
                    Text(
                        text = stringResource(R.string.report_photos_attached, draft.photos.size),
                        style = MaterialTheme.typography.bodySmall,
                    )
                }
            }
        },
        confirmButton = {
            TextButton(onClick = { onConfirm(title, note, fixed) }, enabled = title.isNotBlank()) {
                Text(stringResource(if (fixed) R.string.report_record_fixed else R.string.report_send))
            }
        },
        dismissButton = {
            TextButton(onClick = onDismiss) {
                Text(stringResource(R.string.action_cancel))
            }
        },
    )
}
