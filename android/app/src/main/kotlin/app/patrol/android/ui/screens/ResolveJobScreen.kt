package app.patrol.android.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
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
import androidx.compose.material.icons.filled.SearchOff
import androidx.compose.material.icons.filled.TaskAlt
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
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
import app.patrol.android.ui.components.PhotoStrip
import app.patrol.android.ui.components.rememberPhotoCapture
import app.patrol.android.viewmodel.ResolveJobUiState
import app.patrol.android.viewmodel.ResolveJobViewModel
import app.patrol.kit.ffi.Issue
import kotlinx.coroutines.launch

/** Close out a job: photos of the fix and a note; the supervisor then verifies on site. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun ResolveJobScreen(
    onBack: () -> Unit,
    onResolved: () -> Unit,
    viewModel: ResolveJobViewModel = viewModel(),
) {
    val state: ResolveJobUiState by viewModel.state.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }
    val scope = rememberCoroutineScope()
    val capture = rememberPhotoCapture(
        onCaptured = viewModel::addPhoto,
        onFailed = { message -> scope.launch { snackbar.showSnackbar(message) } },
    )

    LaunchedEffect(viewModel) {
        viewModel.resolved.collect { onResolved() }
    }
    LaunchedEffect(state.message) {
        val message = state.message ?: return@LaunchedEffect
        snackbar.showSnackbar(message)
        viewModel.messageShown()
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.resolve_title)) },
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
                title = stringResource(R.string.resolve_not_found),
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
                Text(stringResource(R.string.resolve_photos), style = MaterialTheme.typography.titleSmall)
                Text(
                    text = stringResource(R.string.resolve_photos_hint),
                    style = MaterialTheme.typography.bodySmall,
                    color = if (state.photos.isEmpty()) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.onSurfaceVariant,
                )
                PhotoStrip(
                    photos = state.photos,
                    onAdd = { capture.launch() },
                    onRemove = viewModel::removePhoto,
                    busy = state.addingPhoto,
                    enabled = !state.sending,
                )
                OutlinedTextField(
                    value = state.note,
                    onValueChange = viewModel::setNote,
                    label = { Text(stringResource(R.string.resolve_note)) },
                    placeholder = { Text(stringResource(R.string.resolve_note_placeholder)) },
                    minLines = 3,
                    enabled = !state.sending,
                    modifier = Modifier.fillMaxWidth(),
                )
                Button(
                    onClick = viewModel::resolve,
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
                        Icon(Icons.Filled.TaskAlt, contentDescription = null, modifier = Modifier.size(18.dp))
                        Spacer(Modifier.width(8.dp))
                        Text(stringResource(R.string.resolve_send))
                    }
                }
            }
        }
    }
}
