package app.patrol.android.ui

import android.net.Uri
import androidx.annotation.StringRes
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.Assignment
import androidx.compose.material.icons.filled.Handyman
import androidx.compose.material.icons.filled.Notifications
import androidx.compose.material.icons.filled.QrCodeScanner
import androidx.compose.material.icons.filled.Sync
import androidx.compose.material3.Icon
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.ui.graphics.vector.ImageVector
import androidx.compose.ui.res.stringResource
import androidx.navigation.NavDestination.Companion.hierarchy
import androidx.navigation.NavGraph.Companion.findStartDestination
import androidx.navigation.NavHostController
import androidx.navigation.NavType
import androidx.navigation.compose.NavHost
import androidx.navigation.compose.composable
import androidx.navigation.compose.currentBackStackEntryAsState
import androidx.navigation.compose.rememberNavController
import androidx.navigation.navArgument
import app.patrol.android.R
import app.patrol.android.ui.screens.AlertsScreen
import app.patrol.android.ui.screens.ChecklistScreen
import app.patrol.android.ui.screens.JobsScreen
import app.patrol.android.ui.screens.ReportScreen
import app.patrol.android.ui.screens.ResolveJobScreen
import app.patrol.android.ui.screens.RoundScreen
import app.patrol.android.ui.screens.ScannerScreen
import app.patrol.android.ui.screens.SignOffScreen
import app.patrol.android.ui.screens.SupervisorScreen
import app.patrol.android.ui.screens.SyncScreen
import app.patrol.android.ui.screens.TodayScreen
import app.patrol.android.viewmodel.ChecklistViewModel
import app.patrol.android.viewmodel.ResolveJobViewModel
import app.patrol.android.viewmodel.RoundViewModel
import app.patrol.kit.ffi.Role
import app.patrol.kit.ffi.Session

/** Where the app can go. Ids travel encoded in the route. */
object Routes {
    const val TODAY = "today"
    const val ROUND = "round/{${RoundViewModel.ARG_RUN_ID}}?${RoundViewModel.ARG_NAME}={${RoundViewModel.ARG_NAME}}"
    const val SCAN = "scan/{${RoundViewModel.ARG_RUN_ID}}"
    const val CHECKLIST = "checklist/{${ChecklistViewModel.ARG_VISIT_ID}}"
    const val REPORT = "report/{${ChecklistViewModel.ARG_VISIT_ID}}"
    const val JOBS = "jobs"
    const val RESOLVE = "resolve/{${ResolveJobViewModel.ARG_ISSUE_ID}}"
    const val ISSUES = "issues"
    const val SIGN_OFF = "signoff/{${ResolveJobViewModel.ARG_ISSUE_ID}}"
    const val SYNC = "sync"
    const val ALERTS = "alerts"

    fun round(runId: String, routeName: String): String =
        "round/${Uri.encode(runId)}?${RoundViewModel.ARG_NAME}=${Uri.encode(routeName)}"

    fun scan(runId: String): String = "scan/${Uri.encode(runId)}"

    fun checklist(visitId: String): String = "checklist/${Uri.encode(visitId)}"

    fun report(visitId: String): String = "report/${Uri.encode(visitId)}"

    fun resolve(issueId: String): String = "resolve/${Uri.encode(issueId)}"

    fun signOff(issueId: String): String = "signoff/${Uri.encode(issueId)}"
}

/** The top-level places in the bottom bar. */
enum class HomeTab(val route: String, @StringRes val label: Int, val icon: ImageVector) {
    ROUNDS(Routes.TODAY, R.string.tab_rounds, Icons.Filled.QrCodeScanner),
    JOBS(Routes.JOBS, R.string.tab_jobs, Icons.Filled.Handyman),
    ISSUES(Routes.ISSUES, R.string.tab_issues, Icons.AutoMirrored.Filled.Assignment),
    ALERTS(Routes.ALERTS, R.string.tab_alerts, Icons.Filled.Notifications),
    SYNC(Routes.SYNC, R.string.tab_sync, Icons.Filled.Sync),
}

/**
 * What each role works with, its main place first. Everyone has alerts: supervisors and
 * managers all of their site's, technicians and patrol staff their team's (security: urgent
 * reports).
 */
fun tabsFor(role: Role): List<HomeTab> = when (role) {
    Role.TECHNICIAN -> listOf(HomeTab.JOBS, HomeTab.ALERTS, HomeTab.SYNC)
    Role.SUPERVISOR, Role.MANAGER, Role.ADMIN -> listOf(HomeTab.ISSUES, HomeTab.ALERTS, HomeTab.ROUNDS, HomeTab.SYNC)
    Role.PATROL -> listOf(HomeTab.ROUNDS, HomeTab.ALERTS, HomeTab.SYNC)
}

/**
 * The signed-in app: the role's tabs and the screens they lead to. [openAlerts] (a tapped alert
 * notification) goes to the alerts screen, then [onAlertsOpened] says so.
 */
@Composable
fun PatrolNavHost(
    session: Session,
    onSignOut: () -> Unit,
    openAlerts: Boolean = false,
    onAlertsOpened: () -> Unit = {},
) {
    val navController: NavHostController = rememberNavController()
    val tabs: List<HomeTab> = remember(session.role) { tabsFor(session.role) }
    val bottomBar: @Composable () -> Unit = { HomeNavigationBar(navController = navController, tabs = tabs) }

    LaunchedEffect(openAlerts) {
        if (!openAlerts) return@LaunchedEffect
        navController.navigate(Routes.ALERTS) {
            popUpTo(navController.graph.findStartDestination().id) { saveState = true }
            launchSingleTop = true
        }
        onAlertsOpened()
    }

    NavHost(navController = navController, startDestination = tabs.first().route) {
        composable(Routes.TODAY) {
            TodayScreen(
                onOpenRound = { runId, routeName -> navController.navigate(Routes.round(runId, routeName)) },
                bottomBar = bottomBar,
            )
        }
        composable(
            route = Routes.ROUND,
            arguments = listOf(
                navArgument(RoundViewModel.ARG_RUN_ID) { type = NavType.StringType },
                navArgument(RoundViewModel.ARG_NAME) {
                    type = NavType.StringType
                    defaultValue = ""
                },
            ),
        ) {
            RoundScreen(
                onBack = { navController.popBackStack() },
                onScan = { runId -> navController.navigate(Routes.scan(runId)) },
                onOpenVisit = { visitId -> navController.navigate(Routes.checklist(visitId)) },
                onFinished = { navController.popBackStack() },
            )
        }
        composable(
            route = Routes.SCAN,
            arguments = listOf(navArgument(RoundViewModel.ARG_RUN_ID) { type = NavType.StringType }),
        ) {
            ScannerScreen(
                onBack = { navController.popBackStack() },
                onScanned = { visitId ->
                    // The checklist takes the scanner's place: back from it is the round.
                    navController.navigate(Routes.checklist(visitId)) {
                        popUpTo(Routes.SCAN) { inclusive = true }
                    }
                },
            )
        }
        composable(
            route = Routes.CHECKLIST,
            arguments = listOf(navArgument(ChecklistViewModel.ARG_VISIT_ID) { type = NavType.StringType }),
        ) {
            ChecklistScreen(
                onDone = { navController.popBackStack() },
                onReportOther = { visitId -> navController.navigate(Routes.report(visitId)) },
            )
        }
        composable(
            route = Routes.REPORT,
            arguments = listOf(navArgument(ChecklistViewModel.ARG_VISIT_ID) { type = NavType.StringType }),
        ) {
            ReportScreen(
                onBack = { navController.popBackStack() },
                onSent = { navController.popBackStack() },
            )
        }
        composable(Routes.JOBS) {
            JobsScreen(
                onResolve = { issueId -> navController.navigate(Routes.resolve(issueId)) },
                bottomBar = bottomBar,
            )
        }
        composable(
            route = Routes.RESOLVE,
            arguments = listOf(navArgument(ResolveJobViewModel.ARG_ISSUE_ID) { type = NavType.StringType }),
        ) {
            ResolveJobScreen(
                onBack = { navController.popBackStack() },
                onResolved = { navController.popBackStack() },
            )
        }
        composable(Routes.ISSUES) {
            SupervisorScreen(
                onVerify = { issueId -> navController.navigate(Routes.signOff(issueId)) },
                bottomBar = bottomBar,
            )
        }
        composable(
            route = Routes.SIGN_OFF,
            arguments = listOf(navArgument(ResolveJobViewModel.ARG_ISSUE_ID) { type = NavType.StringType }),
        ) {
            SignOffScreen(
                onBack = { navController.popBackStack() },
                onDone = { navController.popBackStack() },
            )
        }
        composable(Routes.ALERTS) {
            AlertsScreen(bottomBar = bottomBar)
        }
        composable(Routes.SYNC) {
            SyncScreen(onSignOut = onSignOut, bottomBar = bottomBar)
        }
    }
}

@Composable
private fun HomeNavigationBar(navController: NavHostController, tabs: List<HomeTab>) {
    if (tabs.size < 2) return
    val backStackEntry by navController.currentBackStackEntryAsState()
    val destination = backStackEntry?.destination
    NavigationBar {
        for (tab in tabs) {
            NavigationBarItem(
                selected = destination?.hierarchy?.any { it.route == tab.route } == true,
                onClick = {
                    navController.navigate(tab.route) {
                        popUpTo(navController.graph.findStartDestination().id) { saveState = true }
                        launchSingleTop = true
                        restoreState = true
                    }
                },
                // The label below names the tab; the icon needs no words of its own.
                icon = { Icon(tab.icon, contentDescription = null) },
                label = { Text(stringResource(tab.label)) },
            )
        }
    }
}
