package app.patrol.android

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.runtime.getValue
import androidx.compose.runtime.key
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewmodel.compose.viewModel
import app.patrol.android.ui.PatrolNavHost
import app.patrol.android.ui.components.LoadingState
import app.patrol.android.ui.screens.SignInScreen
import app.patrol.android.ui.theme.PatrolTheme
import app.patrol.android.viewmodel.SessionState
import app.patrol.android.viewmodel.SessionViewModel

/** The one activity: sign-in, then the screens of the signed-in user's role. */
class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        enableEdgeToEdge()
        setContent {
            PatrolTheme {
                Surface(modifier = Modifier.fillMaxSize(), color = MaterialTheme.colorScheme.background) {
                    val sessionViewModel: SessionViewModel = viewModel()
                    val state: SessionState by sessionViewModel.state.collectAsStateWithLifecycle()
                    when (val current = state) {
                        SessionState.Checking -> LoadingState(label = stringResource(R.string.starting))
                        is SessionState.SignedOut -> SignInScreen(viewModel = sessionViewModel, notice = current.notice)
                        // A new navigation graph for each user, starting at their role's main screen.
                        is SessionState.SignedIn -> key(current.session.userId) {
                            PatrolNavHost(session = current.session, onSignOut = sessionViewModel::signOut)
                        }
                    }
                }
            }
        }
    }
}
