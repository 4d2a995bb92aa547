package app.patrol.android.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.NotificationsActive
import androidx.compose.material.icons.filled.NotificationsNone
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilledTonalButton
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.material3.pulltorefresh.PullToRefreshBox
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import app.patrol.android.R
import app.patrol.android.sync.AlertNotifier
import app.patrol.android.ui.components.EmptyState
import app.patrol.android.ui.components.ErrorState
import app.patrol.android.ui.components.LoadingState
import app.patrol.android.ui.components.formatDateTime
import app.patrol.android.ui.theme.SlaColors
import app.patrol.android.viewmodel.AckUiState
import app.patrol.android.viewmodel.AlertsUiState
import app.patrol.android.viewmodel.AlertsViewModel
import app.patrol.kit.ffi.Alert
import app.patrol.kit.ffi.AlertKind

/** Open alerts for the signed-in person; each is acknowledged with a note. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun AlertsScreen(
    bottomBar: @Composable () -> Unit,
    viewModel: AlertsViewModel = viewModel(),
) {
    val state: AlertsUiState by viewModel.state.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }

    LaunchedEffect(state.message) {
        val message = state.message ?: return@LaunchedEffect
        snackbar.showSnackbar(message)
        viewModel.messageShown()
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.alerts_title)) },
                actions = {
                    IconButton(onClick = viewModel::refresh, enabled = !state.refreshing) {
                        Icon(Icons.Filled.Refresh, contentDescription = stringResource(R.string.action_refresh))
                    }
                },
            )
        },
        bottomBar = bottomBar,
        snackbarHost = { SnackbarHost(snackbar) },
    ) { padding ->
        PullToRefreshBox(
            isRefreshing = state.refreshing,
            onRefresh = viewModel::refresh,
            modifier = Modifier.fillMaxSize().padding(padding),
        ) {
            val error = state.error
            when {
                state.loading -> LoadingState()
                error != null -> ErrorState(message = error, onRetry = viewModel::load)
                state.alerts.isEmpty() -> EmptyState(
                    icon = Icons.Filled.NotificationsNone,
                    title = stringResource(R.string.alerts_empty_title),
                    body = stringResource(R.string.alerts_empty_body),
                )
                else -> LazyColumn(
                    contentPadding = PaddingValues(16.dp),
                    verticalArrangement = Arrangement.spacedBy(12.dp),
                ) {
                    items(state.alerts, key = { it.id }) { alert ->
                        AlertCard(alert = alert, onAck = { viewModel.startAck(alert) })
                    }
                }
            }
        }
    }

    val ack = state.ack
    if (ack != null) {
        AckDialog(
            ack = ack,
            onNote = viewModel::editNote,
            onConfirm = viewModel::confirmAck,
            onDismiss = viewModel::cancelAck,
        )
    }
}

@Composable
private fun AlertCard(alert: Alert, onAck: () -> Unit) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                KindChip(alert.kind)
                Text(
                    text = formatDateTime(alert.raisedAt),
                    style = MaterialTheme.typography.labelMedium,
                    color = MaterialTheme.colorScheme.onSurfaceVariant,
                )
            }
            Text(alert.textZh, style = MaterialTheme.typography.bodyLarge)
            Text(
                text = alert.textEn,
                style = MaterialTheme.typography.bodyMedium,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
            FilledTonalButton(onClick = onAck, modifier = Modifier.align(Alignment.End)) {
                Text(stringResource(R.string.alerts_ack))
            }
        }
    }
}

@Composable
private fun KindChip(kind: AlertKind) {
    // Urgent and major ones need someone now: the colours of an overdue issue.
    val pressing = kind == AlertKind.URGENT || kind == AlertKind.MAJOR
    Surface(
        shape = RoundedCornerShape(8.dp),
        color = if (pressing) SlaColors.overdue else MaterialTheme.colorScheme.secondaryContainer,
        contentColor = if (pressing) SlaColors.onOverdue else MaterialTheme.colorScheme.onSecondaryContainer,
    ) {
        Text(
            text = stringResource(AlertNotifier.kindLabel(kind)),
            style = MaterialTheme.typography.labelLarge,
            modifier = Modifier.padding(horizontal = 8.dp, vertical = 2.dp),
        )
    }
}

@Composable
private fun AckDialog(
    ack: AckUiState,
    onNote: (String) -> Unit,
    onConfirm: () -> Unit,
    onDismiss: () -> Unit,
) {
    AlertDialog(
        onDismissRequest = { if (!ack.sending) onDismiss() },
        icon = { Icon(Icons.Filled.NotificationsActive, contentDescription = null) },
        title = { Text(stringResource(R.string.alerts_ack_title)) },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                Text(ack.alert.textZh, style = MaterialTheme.typography.bodyMedium)
                OutlinedTextField(
                    value = ack.note,
                    onValueChange = onNote,
                    label = { Text(stringResource(R.string.alerts_ack_note)) },
                    placeholder = { Text(stringResource(R.string.alerts_ack_note_hint)) },
                    minLines = 2,
                    isError = ack.error != null,
                    supportingText = ack.error?.let { message -> { Text(message) } },
                    enabled = !ack.sending,
                    modifier = Modifier.fillMaxWidth(),
                )
            }
        },
        confirmButton = {
            Button(onClick = onConfirm, enabled = !ack.sending && ack.note.isNotBlank()) {
                Text(stringResource(R.string.alerts_ack_confirm))
            }
        },
        dismissButton = {
            TextButton(onClick = onDismiss, enabled = !ack.sending) {
                Text(stringResource(R.string.action_cancel))
            }
        },
    )
}
