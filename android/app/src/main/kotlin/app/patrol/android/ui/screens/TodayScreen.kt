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
import androidx.compose.material.icons.filled.Map
import androidx.compose.material.icons.filled.PlayArrow
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material.icons.filled.Schedule
import androidx.compose.material3.Button
import androidx.compose.material3.Card
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
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import app.patrol.android.R
import app.patrol.android.ui.components.EmptyState
import app.patrol.android.ui.components.ErrorState
import app.patrol.android.ui.components.LoadingState
import app.patrol.android.ui.components.Tag
import app.patrol.android.ui.components.formatClock
import app.patrol.android.viewmodel.TodayUiState
import app.patrol.android.viewmodel.TodayViewModel
import app.patrol.kit.ffi.RouteToday

/** Today's routes: start a round or carry on with the one under way. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun TodayScreen(
    onOpenRound: (runId: String, routeName: String) -> Unit,
    bottomBar: @Composable () -> Unit,
    viewModel: TodayViewModel = viewModel(),
) {
    val state: TodayUiState by viewModel.state.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }

    LaunchedEffect(viewModel) {
        viewModel.roundsToOpen.collect { onOpenRound(it.runId, it.routeName) }
    }
    LaunchedEffect(Unit) {
        // Back from a round: rounds done and under way have changed.
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
                title = { Text(stringResource(R.string.today_title)) },
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
                state.routes.isEmpty() -> EmptyState(
                    icon = Icons.Filled.Map,
                    title = stringResource(R.string.today_empty_title),
                    body = stringResource(R.string.today_empty_body),
                    action = {
                        Button(onClick = viewModel::refresh, enabled = !state.refreshing) {
                            Text(stringResource(R.string.action_sync_now))
                        }
                    },
                )
                else -> LazyColumn(
                    modifier = Modifier.fillMaxSize(),
                    contentPadding = PaddingValues(16.dp),
                    verticalArrangement = Arrangement.spacedBy(12.dp),
                ) {
                    items(state.routes, key = { route: RouteToday -> route.routeId }) { route: RouteToday ->
                        RouteCard(
                            route = route,
                            starting = state.startingRouteId == route.routeId,
                            enabled = state.startingRouteId == null,
                            onOpen = { viewModel.open(route) },
                        )
                    }
                }
            }
        }
    }
}

@Composable
private fun RouteCard(route: RouteToday, starting: Boolean, enabled: Boolean, onOpen: () -> Unit) {
    val underWay = route.underWay != null
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            Row(verticalAlignment = Alignment.CenterVertically) {
                Column(modifier = Modifier.weight(1f)) {
                    Text(route.name, style = MaterialTheme.typography.titleMedium)
                    Text(
                        route.siteName,
                        style = MaterialTheme.typography.bodyMedium,
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                }
                if (underWay) {
                    Tag(
                        text = stringResource(R.string.today_under_way),
                        container = MaterialTheme.colorScheme.tertiaryContainer,
                        content = MaterialTheme.colorScheme.onTertiaryContainer,
                    )
                }
            }
            Text(
                text = stringResource(R.string.today_checkpoints, route.checkpoints.size) + " · " +
                    stringResource(R.string.today_rounds_done, route.roundsDone.toInt()),
                style = MaterialTheme.typography.bodyMedium,
            )
            if (route.times.isNotEmpty()) {
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Icon(
                        imageVector = Icons.Filled.Schedule,
                        contentDescription = stringResource(R.string.cd_schedule),
                        modifier = Modifier.size(18.dp),
                        tint = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                    Spacer(Modifier.width(6.dp))
                    Text(
                        text = route.times.joinToString("  ") { formatClock(it) },
                        style = MaterialTheme.typography.bodyMedium,
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                }
            }
            Row(modifier = Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.End) {
                val label = stringResource(if (underWay) R.string.today_continue else R.string.today_start)
                if (underWay) {
                    Button(onClick = onOpen, enabled = enabled) {
                        Icon(Icons.Filled.PlayArrow, contentDescription = null, modifier = Modifier.size(18.dp))
                        Spacer(Modifier.width(8.dp))
                        Text(label)
                    }
                } else {
                    FilledTonalButton(onClick = onOpen, enabled = enabled) {
                        if (starting) {
                            CircularProgressIndicator(modifier = Modifier.size(18.dp), strokeWidth = 2.dp)
                        } else {
                            Icon(Icons.Filled.PlayArrow, contentDescription = null, modifier = Modifier.size(18.dp))
                        }
                        Spacer(Modifier.width(8.dp))
                        Text(label)
                    }
                }
            }
        }
    }
}
