package app.patrol.android.viewmodel

import android.app.Application
import app.patrol.android.R
import app.patrol.kit.ffi.Issue
import app.patrol.kit.ffi.IssueStatus
import app.patrol.kit.ffi.PatrolException
import app.patrol.kit.ffi.Person
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/** Choosing whom an issue goes to. */
data class AssignUiState(
    val issue: Issue,
    val loading: Boolean = true,
    val people: List<Person> = emptyList(),
    val selectedId: String? = null,
    val error: String? = null,
    val sending: Boolean = false,
)

data class SupervisorUiState(
    val loading: Boolean = true,
    val refreshing: Boolean = false,
    val issues: List<Issue> = emptyList(),
    /** Everyone of the supervisor's sites, to show who has an issue. */
    val people: Map<String, Person> = emptyMap(),
    val error: String? = null,
    val message: String? = null,
    val assign: AssignUiState? = null,
) {
    /** Fixed and waiting for a check on site. */
    val toVerify: List<Issue> get() = issues.filter { it.status == IssueStatus.RESOLVED }

    /** Reported and not yet given to anyone. */
    val toAssign: List<Issue> get() = issues.filter { it.status == IssueStatus.OPEN }

    /** With a technician. */
    val inHand: List<Issue> get() = issues.filter { it.status == IssueStatus.ASSIGNED || it.status == IssueStatus.IN_PROGRESS }
}

/** A supervisor's open issues: assign them, and go and verify the fixed ones. */
class SupervisorViewModel(application: Application) : PatrolViewModel(application) {

    private val _state = MutableStateFlow(SupervisorUiState())
    val state: StateFlow<SupervisorUiState> = _state.asStateFlow()

    private var peopleJob: Job? = null

    init {
        load()
    }

    fun load() {
        launchCatching(onError = { message ->
            _state.update {
                if (it.issues.isEmpty()) it.copy(loading = false, error = message) else it.copy(loading = false, message = message)
            }
        }) {
            val issues: List<Issue> = repo.jobs()
            _state.update { it.copy(loading = false, issues = issues, error = null) }
            val people: List<Person> = repo.people(null)
            _state.update { it.copy(people = people.associateBy { person -> person.userId }) }
        }
    }

    /** Pull-to-refresh: fetch what changed on the server, then read the issues again. */
    fun refresh() {
        if (_state.value.refreshing) return
        _state.update { it.copy(refreshing = true) }
        launchCatching(onError = { message -> _state.update { it.copy(refreshing = false, message = message) } }) {
            try {
                repo.sync()
            } catch (e: PatrolException) {
                _state.update { it.copy(message = describe(e)) }
            }
            val issues: List<Issue> = repo.jobs()
            val people: List<Person> = repo.people(null)
            _state.update {
                it.copy(
                    refreshing = false,
                    loading = false,
                    issues = issues,
                    people = people.associateBy { person -> person.userId },
                    error = null,
                )
            }
        }
    }

    /** Open the choice of people of the issue's team. */
    fun startAssign(issue: Issue) {
        _state.update { it.copy(assign = AssignUiState(issue = issue, selectedId = issue.assigneeId)) }
        peopleJob?.cancel()
        peopleJob = launchCatching(onError = { message ->
            _state.update { state -> state.copy(assign = state.assign?.copy(loading = false, error = message)) }
        }) {
            val people: List<Person> = repo.people(issue.team)
            _state.update { state -> state.copy(assign = state.assign?.copy(loading = false, people = people)) }
        }
    }

    fun select(person: Person) {
        _state.update { state -> state.copy(assign = state.assign?.copy(selectedId = person.userId)) }
    }

    fun cancelAssign() {
        peopleJob?.cancel()
        _state.update { it.copy(assign = null) }
    }

    fun confirmAssign() {
        val assign = _state.value.assign ?: return
        val assigneeId = assign.selectedId ?: return
        if (assign.sending) return
        _state.update { state -> state.copy(assign = state.assign?.copy(sending = true, error = null)) }
        launchCatching(onError = { message ->
            _state.update { state -> state.copy(assign = state.assign?.copy(sending = false, error = message)) }
        }) {
            val updated: Issue = repo.assign(assign.issue.id, assigneeId)
            syncSoon()
            _state.update { state ->
                state.copy(
                    assign = null,
                    issues = state.issues.map { if (it.id == updated.id) updated else it },
                    message = text(R.string.assign_done),
                )
            }
        }
    }

    fun messageShown() = _state.update { it.copy(message = null) }
}
