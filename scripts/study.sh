#!/usr/bin/env bash
# The standard study in the background, resumable across sessions, and its publication.
#
#   scripts/study.sh start    # compare --suite standard, then claims --budget standard
#   scripts/study.sh status   # is it running; runs finished per store; last log lines
#   scripts/study.sh export   # copy each store's results table into results/ and rebuild
#                             # the reports there (while it runs: what has finished so far)
#
# Both studies write to stores under $STUDY_DIR (default ./study-runs, git-ignored). Killed
# (even with kill -9) or interrupted, `start` again resumes: finished runs are skipped and
# unfinished ones continue from their checkpoints. Run from the repository root.
set -euo pipefail

STUDY_DIR=${STUDY_DIR:-study-runs}
WORKERS=${WORKERS:-2}
RNNLAB=${RNNLAB:-python -m rnnlab.cli}
COMPARE_STORE=$STUDY_DIR/standard
CLAIMS_STORE=$STUDY_DIR/claims-standard
PID_FILE=$STUDY_DIR/study.pid

running() { [[ -f $PID_FILE ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

start() {
    mkdir -p "$STUDY_DIR"
    if running; then
        echo "already running (pid $(cat "$PID_FILE")); see $STUDY_DIR/study.log" >&2
        exit 1
    fi
    # One process group runs both studies in turn; `date` lines in the log give each
    # session's wall time (the reports compute theirs from the stores' timestamps).
    nohup setsid bash -c "
        echo \"session start \$(date -u +%FT%TZ)\"
        $RNNLAB compare --suite standard --workers $WORKERS --store $COMPARE_STORE --no-report
        echo \"compare done \$(date -u +%FT%TZ)\"
        $RNNLAB claims --budget standard --workers $WORKERS --store $CLAIMS_STORE
        echo \"claims done \$(date -u +%FT%TZ)\"
    " >>"$STUDY_DIR/study.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    echo "started (pid $!); log: $STUDY_DIR/study.log; stop with: kill -- -$!"
}

status() {
    if running; then echo "running (pid $(cat "$PID_FILE"))"; else echo "not running"; fi
    for store in "$COMPARE_STORE" "$CLAIMS_STORE"; do
        [[ -f $store/results.db ]] || { echo "$store: no store yet"; continue; }
        python - "$store" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}/results.db?mode=ro", uri=True)
counts = dict(db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
print(f"{sys.argv[1]}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
EOF
    done
    tail -n 3 "$STUDY_DIR/study.log" 2>/dev/null || true
}

export_store() {  # export_store STORE DEST: a single-file copy of the results table
    python - "$1" "$2" <<'EOF'
import json, sqlite3, sys
from pathlib import Path

source, dest = Path(sys.argv[1]) / "results.db", Path(sys.argv[2])
dest.mkdir(parents=True, exist_ok=True)
target = dest / "results.db"
target.unlink(missing_ok=True)
copy = sqlite3.connect(target)
sqlite3.connect(f"file:{source}?mode=ro", uri=True).backup(copy)
limit = 20 * 2**20
# Per-step gradient norms of the claims runs (no verdict or page reads them) are the only
# bulky column; they are thinned to every 10th step if the copy would exceed 20 MB.
if target.stat().st_size > limit:
    rows = copy.execute("SELECT key, curves FROM runs WHERE curves LIKE '%grad_norm%'")
    for key, text in rows.fetchall():
        curves = json.loads(text)
        curves["grad_norm"] = curves["grad_norm"][::10]
        curves["grad_norm_every"] = 10
        copy.execute("UPDATE runs SET curves = ? WHERE key = ?", (json.dumps(curves), key))
    copy.commit()
copy.execute("UPDATE runs SET owner = NULL")  # host:pid of the machine that ran them
copy.commit()
copy.execute("VACUUM")
copy.execute("PRAGMA journal_mode=DELETE")
copy.close()
size = target.stat().st_size
print(f"{target}: {size / 2**20:.1f} MiB")
if size > limit:
    sys.exit(f"{target} is over 20 MiB")
EOF
}

publish() {
    # While the study runs, what has finished so far is published (the reports list the runs
    # still going); a later export replaces it. A store not begun yet is skipped.
    if running; then echo "the study is still running: exporting what has finished so far" >&2; fi
    export_store "$COMPARE_STORE" results/standard
    $RNNLAB report results/standard --quiet
    if [[ -f $CLAIMS_STORE/results.db ]]; then
        export_store "$CLAIMS_STORE" results/claims-standard
        # claim 4's interleaved speed benchmark is kept beside the store, not in it
        cp "$CLAIMS_STORE/claim4-speed.json" results/claims-standard/ 2>/dev/null || true
        $RNNLAB claims --budget standard --store results/claims-standard --report-only >/dev/null
    fi
    cp "$STUDY_DIR/study.log" results/study-log.txt
    rmdir results/standard/checkpoints results/claims-standard/checkpoints 2>/dev/null || true
    du -sh results/*/
}

case ${1:-} in
    start) start ;;
    status) status ;;
    export) publish ;;
    *) echo "usage: $0 start|status|export" >&2; exit 2 ;;
esac
