package app.patrol.android.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.Logout
import androidx.compose.material.icons.filled.Close
import androidx.compose.material.icons.filled.CloudDone
import androidx.compose.material.icons.filled.CloudOff
import androidx.compose.material.icons.filled.ErrorOutline
import androidx.compose.material.icons.filled.Person
import androidx.compose.material.icons.filled.Sync
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
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
import app.patrol.android.ui.components.ErrorState
import app.patrol.android.ui.components.LoadingState
import app.patrol.android.ui.components.formatMillis
import app.patrol.android.ui.components.roleLabel
import app.patrol.android.ui.components.teamLabel
import app.patrol.android.viewmodel.SyncUiState
import app.patrol.android.viewmodel.SyncViewModel
import app.patrol.kit.SyncState
import app.patrol.kit.ffi.Pending
import app.patrol.kit.ffi.Rejection
import app.patrol.kit.ffi.Session
import app.patrol.kit.ffi.SyncPhase
import app.patrol.kit.ffi.SyncSummary

/** What waits for the server, what it refused, the sync under way, and the account. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun SyncScreen(
    onSignOut: () -> Unit,
    bottomBar: @Composable () -> Unit,
    viewModel: SyncViewModel = viewModel(),
) {
    val state: SyncUiState by viewModel.state.collectAsStateWithLifecycle()
    val sync: SyncState by viewModel.syncState.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }
    var confirmSignOut by rememberSaveable { mutableStateOf(false) }

    LaunchedEffect(Unit) {
        viewModel.load()
    }
    LaunchedEffect(state.message) {
        val message = state.message ?: return@LaunchedEffect
        snackbar.showSnackbar(message)
        viewModel.messageShown()
    }

    Scaffold(
        topBar = { TopAppBar(title = { Text(stringResource(R.string.sync_title)) }) },
        bottomBar = bottomBar,
        snackbarHost = { SnackbarHost(snackbar) },
    ) { padding ->
        val error = state.error
        when {
            state.loading -> LoadingState(modifier = Modifier.padding(padding))
            error != null && state.pending == null ->
                ErrorState(message = error, onRetry = viewModel::load, modifier = Modifier.padding(padding))
            else -> LazyColumn(
                modifier = Modifier.fillMaxSize().padding(padding),
                contentPadding = PaddingValues(16.dp),
                verticalArrangement = Arrangement.spacedBy(12.dp),
            ) {
                item {
                    SyncCard(
                        sync = sync,
                        pending = state.pending,
                        onSyncNow = viewModel::syncNow,
                        onCancel = viewModel::cancel,
                    )
                }
                item { LastResultCard(sync) }
                if (state.rejections.isNotEmpty()) {
                    item {
                        Text(
                            text = stringResource(R.string.sync_rejections_title),
                            style = MaterialTheme.typography.titleSmall,
                            modifier = Modifier.padding(top = 8.dp),
                        )
                    }
                    items(state.rejections, key = { rejection: Rejection -> rejection.seq.toString() }) { rejection: Rejection ->
                        RejectionCard(rejection = rejection, onDismiss = { viewModel.dismiss(rejection) })
                    }
                }
                item {
                    AccountCard(session = state.session, onSignOut = { confirmSignOut = true })
                }
            }
        }
    }

    if (confirmSignOut) {
        val waiting = state.pending?.let { it.ops + it.photos } ?: 0uL
        AlertDialog(
            onDismissRequest = { confirmSignOut = false },
            title = { Text(stringResource(R.string.sign_out_title)) },
            text = {
                Text(
                    if (waiting > 0uL) {
                        stringResource(R.string.sign_out_body_pending, waiting.toString())
                    } else {
                        stringResource(R.string.sign_out_body)
                    },
                )
            },
            confirmButton = {
                TextButton(onClick = {
                    confirmSignOut = false
                    onSignOut()
                }) {
                    Text(stringResource(R.string.sign_out_action))
                }
            },
            dismissButton = {
                TextButton(onClick = { confirmSignOut = false }) {
                    Text(stringResource(R.string.action_cancel))
                }
            },
        )
    }
}

@Composable
private fun SyncCard(sync: SyncState, pending: Pending?, onSyncNow: () -> Unit, onCancel: () -> Unit) {
    val running = sync is SyncState.Running
    val nothingWaiting = pending != null && pending.ops == 0uL && pending.photos == 0uL
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            Row(verticalAlignment = Alignment.CenterVertically) {
                Icon(
                    imageVector = if (nothingWaiting) Icons.Filled.CloudDone else Icons.Filled.CloudOff,
                    contentDescription = null,
                    tint = if (nothingWaiting) MaterialTheme.colorScheme.primary else MaterialTheme.colorScheme.tertiary,
                )
                Spacer(Modifier.width(12.dp))
                Text(
                    text = stringResource(if (nothingWaiting) R.string.sync_all_sent else R.string.sync_waiting),
                    style = MaterialTheme.typography.titleMedium,
                )
            }
            if (pending != null) {
                Row(horizontalArrangement = Arrangement.spacedBy(24.dp)) {
                    Count(value = pending.ops.toString(), label = stringResource(R.string.sync_pending_ops))
                    Count(value = pending.photos.toString(), label = stringResource(R.string.sync_pending_photos))
                    Count(value = pending.rejected.toString(), label = stringResource(R.string.sync_pending_rejected))
                }
            }

            if (sync is SyncState.Running) {
                Text(
                    text = phaseText(sync.phase, sync.done, sync.total),
                    style = MaterialTheme.typography.bodyMedium,
                )
                if (sync.total > 0L) {
                    LinearProgressIndicator(
                        progress = { (sync.done.toFloat() / sync.total.toFloat()).coerceIn(0f, 1f) },
                        modifier = Modifier.fillMaxWidth(),
                    )
                } else {
                    LinearProgressIndicator(modifier = Modifier.fillMaxWidth())
                }
            }

            Text(
                text = stringResource(R.string.sync_background_hint),
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )

            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = onSyncNow, enabled = !running) {
                    Icon(Icons.Filled.Sync, contentDescription = null, modifier = Modifier.size(18.dp))
                    Spacer(Modifier.width(8.dp))
                    Text(stringResource(R.string.action_sync_now))
                }
                OutlinedButton(onClick = onCancel, enabled = running) {
                    Text(stringResource(R.string.action_cancel_sync))
                }
            }
        }
    }
}

@Composable
private fun Count(value: String, label: String) {
    Column {
        Text(value, style = MaterialTheme.typography.headlineSmall)
        Text(label, style = MaterialTheme.typography.bodySmall, color = MaterialTheme.colorScheme.onSurfaceVariant)
    }
}

@Composable
private fun phaseText(phase: SyncPhase?, done: Long, total: Long): String = when (phase) {
    null -> stringResource(R.string.sync_phase_starting)
    SyncPhase.PHOTOS -> stringResource(R.string.sync_phase_photos, done, total)
    SyncPhase.OPS -> stringResource(R.string.sync_phase_ops, done, total)
    SyncPhase.PULL -> stringResource(R.string.sync_phase_pull, done)
}

@Composable
private fun LastResultCard(sync: SyncState) {
    when (sync) {
        is SyncState.Done -> {
            val summary: SyncSummary = sync.summary
            Card(
                modifier = Modifier.fillMaxWidth(),
                colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.primaryContainer),
            ) {
                Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                    Text(
                        text = stringResource(R.string.sync_last_done, formatMillis(sync.atMillis)),
                        style = MaterialTheme.typography.titleSmall,
                    )
                    Text(
                        text = stringResource(
                            R.string.sync_summary,
                            summary.photos.toString(),
                            summary.applied.toString(),
                            summary.duplicates.toString(),
                            summary.rejected.toString(),
                            summary.pulled.toString(),
                        ),
                        style = MaterialTheme.typography.bodyMedium,
                    )
                }
            }
        }
        is SyncState.Failed -> Card(
            modifier = Modifier.fillMaxWidth(),
            colors = CardDefaults.cardColors(
                containerColor = MaterialTheme.colorScheme.errorContainer,
                contentColor = MaterialTheme.colorScheme.onErrorContainer,
            ),
        ) {
            Row(modifier = Modifier.padding(16.dp)) {
                Icon(Icons.Filled.ErrorOutline, contentDescription = stringResource(R.string.cd_error))
                Spacer(Modifier.width(12.dp))
                Column(verticalArrangement = Arrangement.spacedBy(4.dp)) {
                    Text(stringResource(R.string.sync_last_failed), style = MaterialTheme.typography.titleSmall)
                    Text(
                        text = sync.error.message ?: stringResource(R.string.error_unexpected),
                        style = MaterialTheme.typography.bodyMedium,
                    )
                    Text(
                        text = stringResource(if (sync.retryable) R.string.sync_will_retry else R.string.sync_needs_attention),
                        style = MaterialTheme.typography.bodySmall,
                    )
                }
            }
        }
        is SyncState.Running -> Unit
        SyncState.Idle -> Text(
            text = stringResource(R.string.sync_no_result),
            style = MaterialTheme.typography.bodyMedium,
            color = MaterialTheme.colorScheme.onSurfaceVariant,
        )
    }
}

@Composable
private fun RejectionCard(rejection: Rejection, onDismiss: () -> Unit) {
    Card(
        modifier = Modifier.fillMaxWidth(),
        colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.surfaceVariant),
    ) {
        Row(modifier = Modifier.padding(start = 16.dp, top = 12.dp, bottom = 12.dp, end = 4.dp)) {
            Column(modifier = Modifier.weight(1f), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                Text(rejection.message, style = MaterialTheme.typography.bodyMedium)
                Text(
                    text = "${rejection.kind} · ${rejection.code}",
                    style = MaterialTheme.typography.bodySmall,
                    color = MaterialTheme.colorScheme.onSurfaceVariant,
                )
            }
            IconButton(onClick = onDismiss) {
                Icon(Icons.Filled.Close, contentDescription = stringResource(R.string.cd_dismiss_rejection))
            }
        }
    }
}

@Composable
private fun AccountCard(session: Session?, onSignOut: () -> Unit) {
    Card(modifier = Modifier.fillMaxWidth()) {
        ListItem(
            headlineContent = { Text(session?.username ?: stringResource(R.string.account_unknown)) },
            supportingContent = {
                if (session != null) {
                    val team = session.team
                    Text(if (team != null) "${roleLabel(session.role)} · ${teamLabel(team)}" else roleLabel(session.role))
                }
            },
            leadingContent = { Icon(Icons.Filled.Person, contentDescription = stringResource(R.string.cd_account)) },
            trailingContent = {
                TextButton(onClick = onSignOut) {
                    Icon(Icons.AutoMirrored.Filled.Logout, contentDescription = null, modifier = Modifier.size(18.dp))
                    Spacer(Modifier.width(6.dp))
                    Text(stringResource(R.string.sign_out_action))
                }
            },
        )
    }
}
