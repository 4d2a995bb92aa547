package app.patrol.android.viewmodel

import android.app.Application
import app.patrol.android.R
import app.patrol.kit.ffi.Issue
import app.patrol.kit.ffi.PatrolException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

data class JobsUiState(
    val loading: Boolean = true,
    val refreshing: Boolean = false,
    val jobs: List<Issue> = emptyList(),
    val error: String? = null,
    val message: String? = null,
    /** The job being started. */
    val startingId: String? = null,
)

/** A technician's jobs: the issues routed to their team's queue, soonest due first. */
class JobsViewModel(application: Application) : PatrolViewModel(application) {

    private val _state = MutableStateFlow(JobsUiState())
    val state: StateFlow<JobsUiState> = _state.asStateFlow()

    init {
        load()
    }

    /** Read the jobs on the phone (after a close-out, too). */
    fun load() {
        launchCatching(onError = { message ->
            _state.update {
                if (it.jobs.isEmpty()) it.copy(loading = false, error = message) else it.copy(loading = false, message = message)
            }
        }) {
            val jobs: List<Issue> = repo.jobs()
            _state.update { it.copy(loading = false, jobs = jobs, error = null) }
        }
    }

    /** Pull-to-refresh: fetch new jobs from the server, then read them again. */
    fun refresh() {
        if (_state.value.refreshing) return
        _state.update { it.copy(refreshing = true) }
        launchCatching(onError = { message -> _state.update { it.copy(refreshing = false, message = message) } }) {
            try {
                repo.sync()
            } catch (e: PatrolException) {
                _state.update { it.copy(message = describe(e)) }
            }
            val jobs: List<Issue> = repo.jobs()
            _state.update { it.copy(refreshing = false, loading = false, jobs = jobs, error = null) }
        }
    }

    /** On site and working on it. */
    fun start(job: Issue) {
        if (_state.value.startingId != null) return
        _state.update { it.copy(startingId = job.id) }
        launchCatching(onError = { message -> _state.update { it.copy(startingId = null, message = message) } }) {
            val started: Issue = repo.startJob(job.id)
            syncSoon()
            _state.update { state ->
                state.copy(
                    startingId = null,
                    jobs = state.jobs.map { if (it.id == started.id) started else it },
                    message = text(R.string.job_started),
                )
            }
        }
    }

    fun messageShown() = _state.update { it.copy(message = null) }
}
