package app.patrol.android.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
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
import androidx.compose.material.icons.automirrored.filled.Undo
import androidx.compose.material.icons.filled.SearchOff
import androidx.compose.material.icons.filled.TaskAlt
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
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
import app.patrol.android.ui.components.EmptyState
import app.patrol.android.ui.components.ErrorState
import app.patrol.android.ui.components.IssueCard
import app.patrol.android.ui.components.LoadingState
import app.patrol.android.ui.components.SignaturePad
import app.patrol.android.ui.components.SignaturePadState
import app.patrol.android.ui.components.rememberSignaturePadState
import app.patrol.android.ui.components.signatureStrokeWidthPx
import app.patrol.android.viewmodel.SignOffUiState
import app.patrol.android.viewmodel.SignOffViewModel
import app.patrol.kit.ffi.Issue

/** Verify a fix on site: sign to accept it, or send it back with the reason. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun SignOffScreen(
    onBack: () -> Unit,
    onDone: () -> Unit,
    viewModel: SignOffViewModel = viewModel(),
) {
    val state: SignOffUiState by viewModel.state.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }
    val pad: SignaturePadState = rememberSignaturePadState()
    val strokeWidth = signatureStrokeWidthPx()
    var rejecting by rememberSaveable { mutableStateOf(false) }

    LaunchedEffect(viewModel) {
        viewModel.done.collect { onDone() }
    }
    LaunchedEffect(state.message) {
        val message = state.message ?: return@LaunchedEffect
        snackbar.showSnackbar(message)
        viewModel.messageShown()
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.signoff_title)) },
                navigationIcon = {
                    IconButton(onClick = onBack, enabled = !state.sending) {
                        Icon(Icons.AutoMirrored.Filled.ArrowBack, contentDescription = stringResource(R.string.cd_back))
                    }
                },
            )
        },
        snackbarHost = { SnackbarHost(snackbar) },
    ) { padding ->
        val issue: Issue? = state.issue
        val error = state.error
        when {
            state.loading -> LoadingState(modifier = Modifier.padding(padding))
            error != null -> ErrorState(message = error, onRetry = viewModel::load, modifier = Modifier.padding(padding))
            issue == null -> EmptyState(
                icon = Icons.Filled.SearchOff,
                title = stringResource(R.string.signoff_not_found),
                modifier = Modifier.padding(padding),
                action = { Button(onClick = onBack) { Text(stringResource(R.string.action_back)) } },
            )
            else -> Column(
                modifier = Modifier
                    .fillMaxSize()
                    .padding(padding)
                    .imePadding()
                    .verticalScroll(rememberScrollState())
                    .padding(16.dp),
                verticalArrangement = Arrangement.spacedBy(16.dp),
            ) {
                IssueCard(issue = issue)
                Text(
                    text = stringResource(R.string.signoff_intro),
                    style = MaterialTheme.typography.bodyMedium,
                    color = MaterialTheme.colorScheme.onSurfaceVariant,
                )
                OutlinedTextField(
                    value = state.note,
                    onValueChange = viewModel::setNote,
                    label = { Text(stringResource(R.string.signoff_note)) },
                    enabled = !state.sending,
                    modifier = Modifier.fillMaxWidth(),
                )
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Text(
                        text = stringResource(R.string.signoff_signature),
                        style = MaterialTheme.typography.titleSmall,
                        modifier = Modifier.weight(1f),
                    )
                    TextButton(onClick = { pad.clear() }, enabled = !pad.isEmpty && !state.sending) {
                        Text(stringResource(R.string.signoff_clear))
                    }
                }
                SignaturePad(
                    state = pad,
                    description = stringResource(R.string.cd_signature_pad),
                    modifier = Modifier.fillMaxWidth().height(200.dp),
                )
                Button(
                    onClick = { viewModel.accept { pad.toPng(strokeWidth) } },
                    enabled = !pad.isEmpty && !state.sending,
                    modifier = Modifier.fillMaxWidth().height(52.dp),
                ) {
                    if (state.sending && !rejecting) {
                        CircularProgressIndicator(
                            modifier = Modifier.size(20.dp),
                            strokeWidth = 2.dp,
                            color = MaterialTheme.colorScheme.onPrimary,
                        )
                    } else {
                        Icon(Icons.Filled.TaskAlt, contentDescription = null, modifier = Modifier.size(18.dp))
                        Spacer(Modifier.width(8.dp))
                        Text(stringResource(R.string.signoff_accept))
                    }
                }
                OutlinedButton(
                    onClick = { rejecting = true },
                    enabled = !state.sending,
                    colors = ButtonDefaults.outlinedButtonColors(contentColor = MaterialTheme.colorScheme.error),
                    modifier = Modifier.fillMaxWidth(),
                ) {
                    Icon(Icons.AutoMirrored.Filled.Undo, contentDescription = null, modifier = Modifier.size(18.dp))
                    Spacer(Modifier.width(8.dp))
                    Text(stringResource(R.string.signoff_reject))
                }
            }
        }
    }

    if (rejecting) {
        AlertDialog(
            onDismissRequest = { if (!state.sending) rejecting = false },
            title = { Text(stringResource(R.string.signoff_reject_title)) },
            text = {
                Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                    Text(stringResource(R.string.signoff_reject_body))
                    OutlinedTextField(
                        value = state.rejectReason,
                        onValueChange = viewModel::setRejectReason,
                        label = { Text(stringResource(R.string.signoff_reject_reason)) },
                        minLines = 2,
                        enabled = !state.sending,
                        modifier = Modifier.fillMaxWidth(),
                    )
                }
            },
            confirmButton = {
                TextButton(
                    onClick = viewModel::reject,
                    enabled = state.rejectReason.isNotBlank() && !state.sending,
                ) {
                    if (state.sending) {
                        CircularProgressIndicator(modifier = Modifier.size(18.dp), strokeWidth = 2.dp)
                    } else {
                        Text(stringResource(R.string.signoff_reject_confirm))
                    }
                }
            },
            dismissButton = {
                TextButton(onClick = { rejecting = false }, enabled = !state.sending) {
                    Text(stringResource(R.string.action_cancel))
                }
            },
        )
    }
}
