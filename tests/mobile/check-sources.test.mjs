// The source check must catch what it exists to catch: run it on small apps with known faults.
// Needs the generated bindings (scripts/mobile-test makes them first; paths from the
// environment or target/mobile).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadParsers, run } from './check-sources.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const kotlinBindings = process.env.PATROL_KOTLIN_BINDINGS ?? join(repo, 'target/mobile/kotlin');
const swiftBindings = process.env.PATROL_SWIFT_BINDINGS ?? join(repo, 'target/mobile/swift');

let parsers;
let dir;
before(async () => {
  parsers = await loadParsers();
  dir = mkdtempSync(join(tmpdir(), 'check-sources-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Write an app of the given files and check it. */
async function check(name, files) {
  const root = join(dir, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  // The repository layers are PatrolKit too: check against them as the real run does.
  const kits = [join(repo, 'android/patrolkit/src/main'), join(repo, 'ios/PatrolKit/Sources')].filter(existsSync);
  const { problems, stats } = await run({ kotlinBindings, swiftBindings, roots: [root, ...kits], parsers, log: () => {} });
  const checked = Object.entries(stats.byFile)
    .filter(([f]) => f.includes(`/${name}/`))
    .reduce((sum, [, n]) => sum + n, 0);
  return { problems: problems.join('\n'), count: problems.length, checked };
}

const goodKotlin = `package app.patrol.android

import androidx.compose.ui.semantics.Role
import app.patrol.kit.PatrolRepository
import app.patrol.kit.ItemAnswer
import app.patrol.kit.ffi.IssueStatus
import app.patrol.kit.ffi.ItemKind
import app.patrol.kit.ffi.Outcome
import app.patrol.kit.ffi.PatrolException
import app.patrol.kit.ffi.ReportInput
import app.patrol.kit.ffi.Scan
import app.patrol.kit.ffi.ScanFlag

// Compose's Role, not PatrolKit's: its members are none of PatrolKit's business.
val radio = Role.RadioButton

fun flagText(flag: ScanFlag): String = when (flag) {
    is ScanFlag.TooFast -> "fast \${flag.minSecs}"
    is ScanFlag.RepeatScan -> "again"
    is ScanFlag.RoundTooShort -> "short"
}

class RoundModel(private val repo: PatrolRepository) {
    suspend fun walk(runId: String, token: String): String {
        val scan: Scan = repo.scan(runId, token)
        for (item in scan.items) {
            repo.answer(scan.visitId, item, ItemAnswer.Mark(Outcome.OK))
            println(item.textZh)
            when (item.kind) {
                ItemKind.READING -> println(item.unit)
                ItemKind.TEXT, ItemKind.CHECK -> Unit
            }
        }
        scan.items.forEach { item -> println(item.photoOnFault) }
        scan.items.forEach { println(it.textEn) }
        // Compose's Text is not PatrolKit's nested ItemAnswer.Text; \`it\` here is not an item.
        Text(text = "x", style = null)
        listOf("a").forEach { println(it.length) }
        repo.answer(scan.visitId, scan.items[0], ItemAnswer.Text(text = "ok"))
        val input = ReportInput(siteId = null, visitId = scan.visitId, itemKey = null, category = null,
            severity = null, title = "x", note = null, photos = emptyList(), fixedOnSpot = false)
        return try {
            val issue = repo.report(input)
            if (issue.status == IssueStatus.OPEN) "open" else issue.title
        } catch (e: PatrolException.Label) {
            e.message ?: ""
        }
    }
}
`;

test('a correct app passes, and its uses of PatrolKit were really checked', async () => {
  const { problems, checked } = await check('good', { 'android/app/src/main/kotlin/Round.kt': goodKotlin });
  assert.equal(problems, '');
  assert.ok(checked >= 12, `checked only ${checked}`);
});

test('a Kotlin syntax error is reported with its line', async () => {
  const { problems } = await check('syntax-kt', {
    'android/app/src/main/kotlin/Broken.kt': goodKotlin.replace('for (item in scan.items) {', 'for (item in scan.items {'),
  });
  assert.match(problems, /Broken\.kt:\d+:\d+ (cannot parse|missing)/);
});

test('Kotlin calls, fields, enum entries, imports and record arguments PatrolKit lacks', async () => {
  const bad = goodKotlin
    .replace('is ScanFlag.TooFast ->', 'is ScanFlag.TooQuick ->')
    .replace('ItemKind.TEXT, ItemKind.CHECK ->', 'ItemKind.TEXT, ItemKind.CHEK ->')
    .replace('repo.scan(runId, token)', 'repo.scanLabel(runId, token)')
    .replace('println(item.textZh)', 'println(item.textZH)')
    .replace('Outcome.OK', 'Outcome.PASSED')
    .replace('import app.patrol.kit.ffi.Scan', 'import app.patrol.kit.ffi.Scan\nimport app.patrol.kit.ffi.Checkpoint')
    .replace('fixedOnSpot = false)', 'fixedOnSite = false)')
    .replace('println(item.photoOnFault)', 'println(item.photoRequired)')
    .replace('println(it.textEn)', 'println(it.textEnglish)')
    .replace('ItemAnswer.Text(text = "ok")', 'ItemAnswer.Text(note = "ok")');
  const { problems, count } = await check('names-kt', { 'android/app/src/main/kotlin/Round.kt': bad });
  for (const missing of ['PatrolRepository.scanLabel', 'ChecklistItem.textZH', 'Outcome.PASSED', 'no Checkpoint', 'no parameter fixedOnSite', 'ChecklistItem.photoRequired',
    'ChecklistItem.textEnglish', 'ItemAnswer.Text(…) has no parameter note', 'no ScanFlag.TooQuick', 'no ItemKind.CHEK']) {
    assert.ok(problems.includes(missing), `${missing} not reported:\n${problems}`);
  }
  assert.equal(count, 10, problems);
});

test('Kotlin: a property inherited from the app\'s own base class is followed, across files', async () => {
  const base = `package app.patrol.android

import app.patrol.kit.PatrolRepository

abstract class BaseModel {
    protected val repo: PatrolRepository
        get() = TODO()
}
`;
  const screen = (call) => `package app.patrol.android

import app.patrol.kit.ffi.Alert

class AlertsModel : BaseModel() {
    suspend fun load(): List<Alert> = repo.${call}()
}
`;
  const good = await check('inherit-good-kt', {
    'android/app/src/main/kotlin/BaseModel.kt': base,
    'android/app/src/main/kotlin/AlertsModel.kt': screen('alerts'),
  });
  assert.equal(good.count, 0, good.problems);
  assert.ok(good.checked > 0, 'the inherited repo was not followed');
  const bad = await check('inherit-bad-kt', {
    'android/app/src/main/kotlin/BaseModel.kt': base,
    'android/app/src/main/kotlin/AlertsModel.kt': screen('alertz'),
  });
  assert.ok(bad.problems.includes('PatrolRepository.alertz'), bad.problems);
  assert.equal(bad.count, 1, bad.problems);
});

test('Kotlin: a wire name or another enum where a PatrolKit enum is compared', async () => {
  const bad = goodKotlin
    .replace('issue.status == IssueStatus.OPEN', 'issue.status == "open"')
    .replace('ItemKind.READING -> println(item.unit)', '"reading" -> println(item.unit)')
    .replace('ItemKind.TEXT, ItemKind.CHECK ->', 'ItemKind.TEXT, Outcome.OK ->');
  const { problems, count } = await check('wire-kt', { 'android/app/src/main/kotlin/Round.kt': bad });
  for (const wrong of ['IssueStatus is an enum: "open" is a string', 'ItemKind is an enum: "reading" is a string', 'Outcome.OK is a Outcome, where a ItemKind is compared']) {
    assert.ok(problems.includes(wrong), `${wrong} not reported:\n${problems}`);
  }
  assert.equal(count, 3, problems);
});

const goodSwift = `import SwiftUI
import PatrolKit

struct JobRow: View {
    let issue: Issue
    let app: PatrolApp

    var body: some View {
        VStack {
            Text(issue.title)
            Text(issue.dueAt)
        }
    }

    // Foundation's Data, not the bindings' fileprivate extension of it.
    func size(of data: Data) -> Int { data.count }

    var isWaiting: Bool {
        issue.status == .assigned || issue.status == .inProgress
    }

    var isOpen: Bool {
        [IssueStatus.open, .assigned].contains(issue.status)
    }

    func flagText(_ flag: ScanFlag) -> String {
        switch flag {
        case let .tooFast(_, secs, minSecs): return "\(secs) \(minSecs)"
        case .repeatScan: return "again"
        case .roundTooShort: return "short"
        }
    }

    func close(photo: String) throws -> Issue {
        let done = try app.resolveJob(issueId: issue.id, note: nil, photos: [photo])
        let first: Severity = .routine
        _ = first
        _ = Outcome.fault
        let input = ReportInput(siteId: nil, visitId: nil, itemKey: nil, category: nil, severity: nil, title: "x", note: nil, photos: [], fixedOnSpot: false)
        _ = input
        return done
    }
}
`;

test('a correct Swift file passes and is checked', async () => {
  const { problems, checked } = await check('good-swift', { 'ios/PatrolApp/JobRow.swift': goodSwift });
  assert.equal(problems, '');
  assert.ok(checked >= 14, `checked only ${checked}`);
});

test('Swift: the shorthand cases of a PatrolKit enum, and wire names in their place', async () => {
  const bad = goodSwift
    .replace('issue.status == .assigned ||', 'issue.status == .started ||')
    .replace('issue.status == .inProgress', 'issue.status == "in_progress"')
    .replace('[IssueStatus.open, .assigned]', '[IssueStatus.open, .asigned]')
    .replace('case let .tooFast(_, secs, minSecs)', 'case let .tooQuick(_, secs, minSecs)')
    .replace('let first: Severity = .routine', 'let first: Severity = .normal');
  const { problems, count } = await check('shorthand-swift', { 'ios/PatrolApp/JobRow.swift': bad });
  for (const wrong of ['no IssueStatus.started', 'IssueStatus is an enum: "in_progress" is a string', 'no IssueStatus.asigned', 'no ScanFlag.tooQuick', 'no Severity.normal']) {
    assert.ok(problems.includes(wrong), `${wrong} not reported:\n${problems}`);
  }
  assert.equal(count, 5, problems);
});

test('Swift: a type the app declares itself is not PatrolKit\'s', async () => {
  const own = `import PatrolKit

enum Team { case red, blue }

func side(_ team: Team) -> Bool { team == .red }
`;
  const { problems } = await check('own-swift', { 'ios/PatrolApp/Side.swift': own });
  assert.equal(problems, '');
});

test('Swift syntax errors and names PatrolKit lacks', async () => {
  const { problems: syntax } = await check('syntax-swift', {
    'ios/PatrolApp/JobRow.swift': goodSwift.replace('Text(issue.dueAt)', 'Text(issue.dueAt'),
  });
  assert.match(syntax, /JobRow\.swift:\d+:\d+/);
  const bad = goodSwift
    .replace('app.resolveJob(', 'app.resolve(')
    .replace('Text(issue.dueAt)', 'Text(issue.deadline)')
    .replace('Outcome.fault', 'Outcome.broken')
    .replace('fixedOnSpot: false)', 'fixed: false)');
  const { problems, count } = await check('names-swift', { 'ios/PatrolApp/JobRow.swift': bad });
  for (const missing of ['PatrolApp.resolve', 'Issue.deadline', 'Outcome.broken', 'no parameter fixed']) {
    assert.ok(problems.includes(missing), `${missing} not reported:\n${problems}`);
  }
  assert.equal(count, 4, problems);
});
