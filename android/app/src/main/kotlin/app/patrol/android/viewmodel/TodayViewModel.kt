package app.patrol.android.viewmodel

import android.app.Application
import app.patrol.kit.ffi.PatrolException
import app.patrol.kit.ffi.RouteToday
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.flow.update

data class TodayUiState(
    val loading: Boolean = true,
    val refreshing: Boolean = false,
    val routes: List<RouteToday> = emptyList(),
    /** Loading failed and there is nothing to show. */
    val error: String? = null,
    /** A passing message (offline refresh, a round that could not start). */
    val message: String? = null,
    /** The route whose round is being started. */
    val startingRouteId: String? = null,
)

/** A round to open: its id and its route's name for the title. */
data class OpenRound(val runId: String, val routeName: String)

/** Today's routes for the signed-in patrol: start a round or carry on with one. */
class TodayViewModel(application: Application) : PatrolViewModel(application) {

    private val _state = MutableStateFlow(TodayUiState())
    val state: StateFlow<TodayUiState> = _state.asStateFlow()

    private val openRounds = Channel<OpenRound>(Channel.BUFFERED)

    /** Rounds to navigate to, once each. */
    val roundsToOpen: Flow<OpenRound> = openRounds.receiveAsFlow()

    init {
        load()
    }

    /** Read today's routes from the phone. */
    fun load() {
        launchCatching(onError = { message ->
            _state.update {
                // With routes already on screen a failure is only a passing message.
                if (it.routes.isEmpty()) it.copy(loading = false, error = message) else it.copy(loading = false, message = message)
            }
        }) {
            val routes: List<RouteToday> = repo.routesToday()
            _state.update { it.copy(loading = false, routes = routes, error = null) }
        }
    }

    /** Pull-to-refresh: sync with the server, then read the routes again. */
    fun refresh() {
        if (_state.value.refreshing) return
        _state.update { it.copy(refreshing = true) }
        launchCatching(onError = { message -> _state.update { it.copy(refreshing = false, message = message) } }) {
            try {
                repo.sync()
            } catch (e: PatrolException) {
                // Offline or refused: the routes on the phone are still good for today.
                _state.update { it.copy(message = describe(e)) }
            }
            val routes: List<RouteToday> = repo.routesToday()
            _state.update { it.copy(refreshing = false, loading = false, routes = routes, error = null) }
        }
    }

    /** Start a round of [route], or carry on with the one under way. */
    fun open(route: RouteToday) {
        val underWay = route.underWay
        if (underWay != null) {
            openRounds.trySend(OpenRound(underWay, route.name))
            return
        }
        if (_state.value.startingRouteId != null) return
        _state.update { it.copy(startingRouteId = route.routeId) }
        launchCatching(onError = { message -> _state.update { it.copy(startingRouteId = null, message = message) } }) {
            val runId = repo.startRound(route.routeId)
            syncSoon()
            _state.update { it.copy(startingRouteId = null) }
            openRounds.send(OpenRound(runId, route.name))
            // The route now shows the round under way when the list is seen again.
            val routes: List<RouteToday> = repo.routesToday()
            _state.update { it.copy(routes = routes) }
        }
    }

    fun messageShown() {
        _state.update { it.copy(message = null) }
    }
}
