package app.patrol.android.viewmodel

import android.app.Application
import app.patrol.android.R
import app.patrol.kit.ffi.Alert
import app.patrol.kit.ffi.PatrolException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/** Acknowledging one alert: who attended and what was done. */
data class AckUiState(
    val alert: Alert,
    val note: String = "",
    val sending: Boolean = false,
    val error: String? = null,
)

data class AlertsUiState(
    val loading: Boolean = true,
    val refreshing: Boolean = false,
    /** Open alerts for the signed-in person, newest first. */
    val alerts: List<Alert> = emptyList(),
    val error: String? = null,
    val message: String? = null,
    val ack: AckUiState? = null,
)

/** The signed-in person's open alerts, and their acknowledgement with a note. */
class AlertsViewModel(application: Application) : PatrolViewModel(application) {

    private val _state = MutableStateFlow(AlertsUiState())
    val state: StateFlow<AlertsUiState> = _state.asStateFlow()

    init {
        load()
    }

    fun load() {
        launchCatching(onError = { message -> _state.update { it.copy(loading = false, error = message) } }) {
            val alerts: List<Alert> = repo.alerts()
            _state.update { it.copy(loading = false, alerts = alerts, error = null) }
        }
    }

    /** Pull-to-refresh: fetch what changed on the server, then read the alerts again. */
    fun refresh() {
        if (_state.value.refreshing) return
        _state.update { it.copy(refreshing = true) }
        launchCatching(onError = { message -> _state.update { it.copy(refreshing = false, message = message) } }) {
            try {
                repo.sync()
            } catch (e: PatrolException) {
                _state.update { it.copy(message = describe(e)) }
            }
            val alerts: List<Alert> = repo.alerts()
            _state.update { it.copy(refreshing = false, loading = false, alerts = alerts, error = null) }
        }
    }

    fun startAck(alert: Alert) = _state.update { it.copy(ack = AckUiState(alert = alert)) }

    fun editNote(note: String) = _state.update { state -> state.copy(ack = state.ack?.copy(note = note, error = null)) }

    fun cancelAck() = _state.update { it.copy(ack = null) }

    /** Acknowledge on the phone; it reaches the server (and the console) with the next sync. */
    fun confirmAck() {
        val ack = _state.value.ack ?: return
        if (ack.sending) return
        _state.update { state -> state.copy(ack = state.ack?.copy(sending = true, error = null)) }
        launchCatching(onError = { message ->
            _state.update { state -> state.copy(ack = state.ack?.copy(sending = false, error = message)) }
        }) {
            val acked: Alert = repo.acknowledgeAlert(ack.alert.id, ack.note)
            syncSoon()
            _state.update { state ->
                state.copy(
                    ack = null,
                    alerts = state.alerts.filterNot { it.id == acked.id },
                    message = text(R.string.alerts_ack_done),
                )
            }
        }
    }

    fun messageShown() = _state.update { it.copy(message = null) }
}
