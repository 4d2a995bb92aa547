package app.patrol.android.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.heightIn
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.selection.selectableGroup
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Draw
import androidx.compose.material.icons.filled.PersonAdd
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material.icons.filled.TaskAlt
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilledTonalButton
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
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
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import app.patrol.android.R
import app.patrol.android.ui.components.EmptyState
import app.patrol.android.ui.components.ErrorState
import app.patrol.android.ui.components.IssueCard
import app.patrol.android.ui.components.LoadingState
import app.patrol.android.ui.components.roleLabel
import app.patrol.android.ui.components.teamLabel
import app.patrol.android.viewmodel.AssignUiState
import app.patrol.android.viewmodel.SupervisorUiState
import app.patrol.android.viewmodel.SupervisorViewModel
import app.patrol.kit.ffi.Issue
import app.patrol.kit.ffi.IssueStatus
import app.patrol.kit.ffi.Person

/** A supervisor's open issues: fixes to verify, issues to assign, issues in hand. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun SupervisorScreen(
    onVerify: (issueId: String) -> Unit,
    bottomBar: @Composable () -> Unit,
    viewModel: SupervisorViewModel = viewModel(),
) {
    val state: SupervisorUiState by viewModel.state.collectAsStateWithLifecycle()
    val snackbar = remember { SnackbarHostState() }

    LaunchedEffect(Unit) {
        // Back from a sign-off: the issue is closed or sent back.
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
                title = { Text(stringResource(R.string.issues_title)) },
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
            val toVerify: List<Issue> = state.toVerify
            val toAssign: List<Issue> = state.toAssign
            val inHand: List<Issue> = state.inHand
            when {
                state.loading -> LoadingState()
                error != null -> ErrorState(message = error, onRetry = viewModel::load)
                toVerify.isEmpty() && toAssign.isEmpty() && inHand.isEmpty() -> EmptyState(
                    icon = Icons.Filled.TaskAlt,
                    title = stringResource(R.string.issues_empty_title),
                    body = stringResource(R.string.issues_empty_body),
                )
                else -> LazyColumn(
                    modifier = Modifier.fillMaxSize(),
                    contentPadding = PaddingValues(16.dp),
                    verticalArrangement = Arrangement.spacedBy(12.dp),
                ) {
                    if (toVerify.isNotEmpty()) {
                        item { SectionTitle(stringResource(R.string.issues_to_verify, toVerify.size)) }
                        items(toVerify, key = { issue: Issue -> issue.id }) { issue: Issue ->
                            IssueCard(
                                issue = issue,
                                extra = { AssigneeLine(issue = issue, people = state.people) },
                                actions = {
                                    Button(onClick = { onVerify(issue.id) }) {
                                        Icon(Icons.Filled.Draw, contentDescription = null, modifier = Modifier.size(18.dp))
                                        Spacer(Modifier.width(8.dp))
                                        Text(stringResource(R.string.issues_verify))
                                    }
                                },
                            )
                        }
                    }
                    if (toAssign.isNotEmpty()) {
                        item { SectionTitle(stringResource(R.string.issues_to_assign, toAssign.size)) }
                        items(toAssign, key = { issue: Issue -> issue.id }) { issue: Issue ->
                            IssueCard(
                                issue = issue,
                                actions = {
                                    FilledTonalButton(onClick = { viewModel.startAssign(issue) }) {
                                        Icon(Icons.Filled.PersonAdd, contentDescription = null, modifier = Modifier.size(18.dp))
                                        Spacer(Modifier.width(8.dp))
                                        Text(stringResource(R.string.issues_assign))
                                    }
                                },
                            )
                        }
                    }
                    if (inHand.isNotEmpty()) {
                        item { SectionTitle(stringResource(R.string.issues_in_hand, inHand.size)) }
                        items(inHand, key = { issue: Issue -> issue.id }) { issue: Issue ->
                            IssueCard(
                                issue = issue,
                                extra = { AssigneeLine(issue = issue, people = state.people) },
                                actions = if (issue.status == IssueStatus.ASSIGNED) {
                                    {
                                        OutlinedButton(onClick = { viewModel.startAssign(issue) }) {
                                            Text(stringResource(R.string.issues_reassign))
                                        }
                                    }
                                } else {
                                    null
                                },
                            )
                        }
                    }
                }
            }
        }
    }

    val assign: AssignUiState? = state.assign
    if (assign != null) {
        AssignDialog(
            assign = assign,
            onSelect = viewModel::select,
            onConfirm = viewModel::confirmAssign,
            onDismiss = viewModel::cancelAssign,
        )
    }
}

@Composable
private fun SectionTitle(text: String) {
    Text(text = text, style = MaterialTheme.typography.titleSmall, modifier = Modifier.padding(top = 8.dp))
}

@Composable
private fun AssigneeLine(issue: Issue, people: Map<String, Person>) {
    val assigneeId = issue.assigneeId ?: return
    val name = people[assigneeId]?.displayName ?: assigneeId
    Text(
        text = stringResource(R.string.issues_assignee, name),
        style = MaterialTheme.typography.bodyMedium,
    )
}

@Composable
private fun AssignDialog(
    assign: AssignUiState,
    onSelect: (Person) -> Unit,
    onConfirm: () -> Unit,
    onDismiss: () -> Unit,
) {
    val issue: Issue = assign.issue
    AlertDialog(
        onDismissRequest = { if (!assign.sending) onDismiss() },
        icon = { Icon(Icons.Filled.PersonAdd, contentDescription = null) },
        title = { Text(stringResource(R.string.assign_title, teamLabel(issue.team))) },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                Text(issue.title, style = MaterialTheme.typography.bodyMedium)
                val error = assign.error
                when {
                    assign.loading -> Box(
                        modifier = Modifier.fillMaxWidth().padding(24.dp),
                        contentAlignment = Alignment.Center,
                    ) {
                        CircularProgressIndicator()
                    }
                    assign.people.isEmpty() && error == null -> Text(
                        text = stringResource(R.string.assign_nobody),
                        style = MaterialTheme.typography.bodyMedium,
                        color = MaterialTheme.colorScheme.onSurfaceVariant,
                    )
                    else -> Column(
                        modifier = Modifier
                            .heightIn(max = 320.dp)
                            .verticalScroll(rememberScrollState())
                            .selectableGroup(),
                    ) {
                        for (person in assign.people) {
                            PersonRow(
                                person = person,
                                selected = assign.selectedId == person.userId,
                                enabled = !assign.sending,
                                onSelect = { onSelect(person) },
                            )
                        }
                    }
                }
                if (error != null) {
                    Text(error, color = MaterialTheme.colorScheme.error, style = MaterialTheme.typography.bodySmall)
                }
            }
        },
        confirmButton = {
            TextButton(
                onClick = onConfirm,
                enabled = assign.selectedId != null && assign.selectedId != issue.assigneeId && !assign.sending,
            ) {
                if (assign.sending) {
                    CircularProgressIndicator(modifier = Modifier.size(18.dp), strokeWidth = 2.dp)
                } else {
                    Text(stringResource(R.string.assign_confirm))
                }
            }
        },
        dismissButton = {
            TextButton(onClick = onDismiss, enabled = !assign.sending) {
                Text(stringResource(R.string.action_cancel))
            }
        },
    )
}

@Composable
private fun PersonRow(person: Person, selected: Boolean, enabled: Boolean, onSelect: () -> Unit) {
    Row(
        modifier = Modifier
            .fillMaxWidth()
            .selectable(selected = selected, enabled = enabled, role = Role.RadioButton, onClick = onSelect)
            .padding(vertical = 8.dp),
        verticalAlignment = Alignment.CenterVertically,
    ) {
        RadioButton(selected = selected, onClick = null, enabled = enabled)
        Spacer(Modifier.width(12.dp))
        Column {
            Text(person.displayName, style = MaterialTheme.typography.bodyLarge)
            Text(
                text = roleLabel(person.role),
                style = MaterialTheme.typography.bodySmall,
                color = MaterialTheme.colorScheme.onSurfaceVariant,
            )
        }
    }
}
