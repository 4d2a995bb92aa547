package app.patrol.android.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Build
import androidx.compose.material.icons.filled.PlayArrow
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material.icons.filled.TaskAlt
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilledTonalButton
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.material3.pulltorefresh.PullToRefreshBox
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
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
import app.patrol.android.viewmodel.JobsUiState
import app.patrol.android.viewmodel.JobsViewModel
import app.patrol.kit.ffi.Issue
import app.patrol.kit.ffi.IssueStatus

/** A technician's jobs, soonest due first: start them on site, close them out with photos. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun JobsScreen(
    onResolve: (issueId: String) -> Unit,
    bottomBar: @Composable () -> Unit,
    viewModel: JobsViewModel = viewModel(),
) {
    val state: JobsUiState by viewModel.state.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }

    LaunchedEffect(Unit) {
        // Back from a close-out: the job has moved on.
        viewModel.load()
    }
    LaunchedEffect(state.message) {
        val message = state.message ?: return@LaunchedEffect
        snackbar.showSnackbar(message)
        viewModel.messageShown()
    }

    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(stringResource(R.string.jobs_title)) },
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
            val open = state.jobs.filter { it.status != IssueStatus.CLOSED }
            when {
                state.loading -> LoadingState()
                error != null -> ErrorState(message = error, onRetry = viewModel::load)
                open.isEmpty() -> EmptyState(
                    icon = Icons.Filled.TaskAlt,
                    title = stringResource(R.string.jobs_empty_title),
                    body = stringResource(R.string.jobs_empty_body),
                )
                else -> LazyColumn(
                    modifier = Modifier.fillMaxSize(),
                    contentPadding = PaddingValues(16.dp),
                    verticalArrangement = Arrangement.spacedBy(12.dp),
                ) {
                    items(open, key = { job: Issue -> job.id }) { job: Issue ->
                        JobCard(
                            job = job,
                            starting = state.startingId == job.id,
                            enabled = state.startingId == null,
                            onStart = { viewModel.start(job) },
                            onResolve = { onResolve(job.id) },
                        )
                    }
                }
            }
        }
    }
}

@Composable
private fun JobCard(job: Issue, starting: Boolean, enabled: Boolean, onStart: () -> Unit, onResolve: () -> Unit) {
    IssueCard(
        issue = job,
        actions = {
            when (job.status) {
                IssueStatus.OPEN, IssueStatus.ASSIGNED -> FilledTonalButton(onClick = onStart, enabled = enabled) {
                    if (starting) {
                        CircularProgressIndicator(modifier = Modifier.size(18.dp), strokeWidth = 2.dp)
                    } else {
                        Icon(Icons.Filled.PlayArrow, contentDescription = null, modifier = Modifier.size(18.dp))
                    }
                    Spacer(Modifier.width(8.dp))
                    Text(stringResource(R.string.jobs_start))
                }
                IssueStatus.IN_PROGRESS -> Button(onClick = onResolve) {
                    Icon(Icons.Filled.Build, contentDescription = null, modifier = Modifier.size(18.dp))
                    Spacer(Modifier.width(8.dp))
                    Text(stringResource(R.string.jobs_resolve))
                }
                IssueStatus.RESOLVED -> Text(
                    text = stringResource(R.string.jobs_waiting_verification),
                    style = MaterialTheme.typography.bodyMedium,
                    color = MaterialTheme.colorScheme.onSurfaceVariant,
                )
                IssueStatus.CLOSED -> Unit
            }
        },
    )
}
