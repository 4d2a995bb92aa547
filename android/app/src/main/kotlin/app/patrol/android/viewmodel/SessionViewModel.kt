package app.patrol.android.viewmodel

import android.app.Application
import androidx.lifecycle.viewModelScope
import app.patrol.android.R
import app.patrol.android.sync.SyncScheduler
import app.patrol.kit.ffi.PatrolException
import app.patrol.kit.ffi.Session
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/** Who is signed in, decided once at start and changed by signing in and out. */
sealed interface SessionState {
    data object Checking : SessionState

    /** [notice] says why the user has to sign in again, if the server signed them out. */
    data class SignedOut(val notice: String? = null) : SessionState

    data class SignedIn(val session: Session) : SessionState
}

data class SignInUiState(
    val busy: Boolean = false,
    /** Signed in; the first sync is fetching today's routes and jobs. */
    val fetching: Boolean = false,
    val error: String? = null,
)

class SessionViewModel(application: Application) : PatrolViewModel(application) {

    private val _state = MutableStateFlow<SessionState>(SessionState.Checking)
    val state: StateFlow<SessionState> = _state.asStateFlow()

    private val _signIn = MutableStateFlow(SignInUiState())
    val signIn: StateFlow<SignInUiState> = _signIn.asStateFlow()

    init {
        viewModelScope.launch {
            _state.value = try {
                val session: Session? = repo.session()
                if (session != null) {
                    // Back from a pause: bring jobs and routes up to date in the background.
                    syncSoon()
                    SessionState.SignedIn(session)
                } else {
                    SessionState.SignedOut()
                }
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                SessionState.SignedOut(describe(e))
            }
        }
        viewModelScope.launch {
            patrolApp.signedOut.collect { message ->
                if (_state.value is SessionState.SignedIn) {
                    _state.value = SessionState.SignedOut(message.ifBlank { text(R.string.signed_out_notice) })
                }
            }
        }
    }

    fun signIn(username: String, password: String) {
        if (_signIn.value.busy) return
        if (username.isBlank() || password.isEmpty()) {
            _signIn.value = SignInUiState(error = text(R.string.sign_in_missing_fields))
            return
        }
        _signIn.value = SignInUiState(busy = true)
        viewModelScope.launch {
            try {
                val session: Session = repo.signIn(username, password)
                _signIn.value = SignInUiState(busy = true, fetching = true)
                try {
                    // Today's routes and jobs come with the first sync; offline, the phone
                    // starts with what it has and the background sync fetches them later.
                    repo.sync()
                } catch (e: PatrolException) {
                    syncSoon()
                }
                SyncScheduler.schedulePeriodic(patrolApp)
                _signIn.value = SignInUiState()
                _state.value = SessionState.SignedIn(session)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                // A wrong password is a SignedOut error too: say so here, do not broadcast it.
                val message = e.message
                _signIn.value = SignInUiState(
                    error = if (e is PatrolException && !message.isNullOrBlank()) message else describe(e),
                )
            }
        }
    }

    fun clearSignInError() {
        _signIn.update { it.copy(error = null) }
    }

    /** Sign out; work not yet sent stays queued for this user's next sign-in. */
    fun signOut() {
        viewModelScope.launch {
            try {
                repo.cancelSync()
                repo.signOut()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                // Signing out only forgets the session; if that failed the next sign-in replaces it.
            }
            _signIn.value = SignInUiState()
            _state.value = SessionState.SignedOut()
        }
    }
}
