# shellcheck shell=bash
# tools/bench-lib.sh: shell functions for tools/bench (sourced, not run).
#
# Results live in files under $BL_WORK (set by bl_init):
#   vals/METRIC.SUBJECT   one number per line, one line per good run
#   fails/KEY.SUBJECT     one line per failure, with its reason; KEY is a
#                         metric (the run went on but gave no number for it)
#                         or a group (the whole run failed: every metric of
#                         that group lost that run)
#   order                 "GROUP ROUND SUBJECT" per run, in the order run
# A failed run is never dropped silently: bl_row shows how many runs gave
# a number and how many failed, for each subject.

# bl_init DIR: keep results under DIR.
bl_init() {
	BL_WORK=$1
	mkdir -p "$BL_WORK/vals" "$BL_WORK/fails"
	: >"$BL_WORK/order"
}

# bl_progress TEXT...: one progress line on stderr, with the time.
bl_progress() {
	printf 'bench %s: %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# bl_is_number STRING: true for a plain non-negative decimal number.
bl_is_number() {
	[[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]
}

# bl_record METRIC SUBJECT VALUE: keeps VALUE; a value that is not a number
# (empty: nothing was measured) counts as a failure of METRIC.
bl_record() {
	if bl_is_number "$3"; then
		echo "$3" >>"$BL_WORK/vals/$1.$2"
	else
		bl_fail "$1" "$2" "no number for $1 (got '${3:0:60}')"
	fi
}

# bl_fail KEY SUBJECT REASON...: counts one failure of KEY (a metric or a
# group) for SUBJECT, and says so on stderr.
bl_fail() {
	local key=$1 subject=$2
	shift 2
	echo "$*" >>"$BL_WORK/fails/$key.$subject"
	bl_progress "FAILED: $key, $subject: $*"
}

# bl_count FILE: number of lines of FILE (0 when it does not exist).
bl_count() {
	if [[ -f $1 ]]; then
		wc -l <"$1" | tr -d ' '
	else
		echo 0
	fi
}

# bl_interleave GROUP RUNS "SUBJECTS" FUNC [ARGS...]: RUNS rounds; each
# round calls "FUNC SUBJECT ROUND ARGS..." once for every subject, in the
# order given (gvmm, qemu, gvmm, qemu, ...), so that a drift of the host
# during the benchmark touches every subject alike. FUNC records its
# numbers with bl_record; when it returns non-zero, the whole run counts as
# failed for GROUP.
bl_interleave() {
	local group=$1 runs=$2 subjects=$3 func=$4 round subject
	shift 4
	for ((round = 1; round <= runs; round++)); do
		for subject in $subjects; do
			echo "$group $round $subject" >>"$BL_WORK/order"
			bl_progress "$group: run $round of $runs: $subject"
			if ! "$func" "$subject" "$round" "$@"; then
				bl_fail "$group" "$subject" "run $round failed"
			fi
		done
	done
}

# bl_median: the median of the numbers on stdin (the mean of the two middle
# ones for an even count); "-" when there are none.
bl_median() {
	sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) { print "-"; exit }
			if (NR % 2) print v[(NR + 1) / 2]
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

# bl_min, bl_max: the smallest and largest number on stdin; "-" when none.
bl_min() { sort -g | awk 'NR == 1 { print $1 } END { if (NR == 0) print "-" }'; }
bl_max() { sort -g | awk '{ v = $1 } END { print (NR ? v : "-") }'; }

# bl_fmt FORMAT VALUE: VALUE through printf FORMAT; "-" stays "-".
bl_fmt() {
	if [[ $2 == - ]]; then
		echo -
	else
		# shellcheck disable=SC2059 # the format is the caller's
		LC_ALL=C printf "$1" "$2"
	fi
}

# bl_ratio A B: A / B with two decimals; "-" when either is missing or B is 0.
bl_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) print "-"
		else printf "%.2f\n", a / b
	}'
}

# bl_cell METRIC SUBJECT FORMAT: "median (min-max)" of METRIC for SUBJECT,
# formatted; "-" when there is no number.
bl_cell() {
	local f=$BL_WORK/vals/$1.$2 med
	[[ -s $f ]] || { echo -; return; }
	med=$(bl_median <"$f")
	if [[ $(bl_count "$f") -eq 1 ]]; then
		bl_fmt "$3" "$med"
	else
		echo "$(bl_fmt "$3" "$med") ($(bl_fmt "$3" "$(bl_min <"$f")")-$(bl_fmt "$3" "$(bl_max <"$f")"))"
	fi
}

# bl_runs GROUP METRIC SUBJECT: "N ok" or "N ok, F failed".
bl_runs() {
	local ok failed
	ok=$(bl_count "$BL_WORK/vals/$2.$3")
	failed=$(($(bl_count "$BL_WORK/fails/$1.$3") + $(bl_count "$BL_WORK/fails/$2.$3")))
	if ((failed)); then
		echo "$ok ok, $failed failed"
	else
		echo "$ok ok"
	fi
}

# bl_table_head: the markdown table's heading.
bl_table_head() {
	echo "| Row | gvmm: median (min-max) | QEMU: median (min-max) | gvmm/QEMU | better | runs gvmm; QEMU |"
	echo "|---|---|---|---|---|---|"
}

# bl_row LABEL GROUP METRIC FORMAT BETTER [QEMU_NOTE]: one table row for
# METRIC (measured in runs of GROUP): both VMMs, the ratio of the medians,
# which direction is better (lower or higher), and runs that gave a number
# or failed. QEMU_NOTE, when given, fills QEMU's cell instead of a number
# (for a metric only gvmm reports).
bl_row() {
	local label=$1 group=$2 metric=$3 fmt=$4 better=$5 note=${6:-} g q ratio qruns
	g=$(bl_cell "$metric" gvmm "$fmt")
	if [[ -n $note ]]; then
		q=$note ratio=- qruns=-
	else
		q=$(bl_cell "$metric" qemu "$fmt")
		ratio=$(bl_ratio "$(bl_median <"$BL_WORK/vals/$metric.gvmm" 2>/dev/null || echo -)" \
			"$(bl_median <"$BL_WORK/vals/$metric.qemu" 2>/dev/null || echo -)")
		qruns=$(bl_runs "$group" "$metric" qemu)
	fi
	echo "| $label | $g | $q | $ratio | $better | $(bl_runs "$group" "$metric" gvmm); $qruns |"
}

# bl_stub_row LABEL REASON: a row that is not measured, saying why.
bl_stub_row() {
	echo "| $1 | not measured yet: $2 | not measured yet | - | - | - |"
}

# bl_failures: every failure with its reason, "- KEY, SUBJECT: REASON"
# lines; nothing when there was none.
bl_failures() {
	local f base
	for f in "$BL_WORK"/fails/*; do
		[[ -f $f ]] || continue
		base=${f##*/}
		sed "s|^|- ${base%.*}, ${base##*.}: |" "$f"
	done
}

# bl_failure_total: the number of failures of every kind.
bl_failure_total() {
	# No failure file at all is the good case: cat's complaint about the
	# unmatched glob must not fail the pipeline (the callers use pipefail).
	{ cat "$BL_WORK"/fails/* 2>/dev/null || true; } | wc -l | tr -d ' '
}

# bl_smaps_beyond_ram PID RAM_KIB: memory of process PID outside its guest
# RAM: "RSS_KIB PRIVATE_DIRTY_KIB", summed over every mapping in
# /proc/PID/smaps except one whose size is exactly RAM_KIB (the guest RAM,
# for gvmm and QEMU alike). Fails, saying so, when no mapping has that size.
bl_smaps_beyond_ram() {
	bl_smaps_file_beyond_ram "/proc/$1/smaps" "$2"
}
# bl_smaps_file_beyond_ram FILE RAM_KIB: the same for a copy of smaps.
bl_smaps_file_beyond_ram() {
	awk -v ram="$2" '
		function done_mapping() {
			if (!have) return
			if (!skipped && size == ram) skipped = 1
			else { rss += m_rss; dirty += m_dirty }
			have = 0
		}
		/^[0-9a-f]+-[0-9a-f]+ / { done_mapping(); have = 1; size = m_rss = m_dirty = 0; next }
		$1 == "Size:" { size = $2 }
		$1 == "Rss:" { m_rss = $2 }
		$1 == "Private_Dirty:" { m_dirty = $2 }
		END {
			done_mapping()
			if (!skipped) { print "no mapping of " ram " KiB (the guest RAM) in smaps" > "/dev/stderr"; exit 1 }
			print rss, dirty
		}' "$1"
}

# bl_wait_line FILE PATTERN SECONDS PID [partial]: waits until a line of
# FILE matches the extended regular expression PATTERN, at most SECONDS,
# and while process PID lives. Sets BL_LINE (the line, without CR) and
# BL_US (the wall clock in microseconds when it was seen). Reads FILE
# through one open descriptor, so each poll costs no new process but the
# short sleep. With "partial", the last line may match before its end has
# come: a shell's prompt waits for input with no newline after it.
bl_wait_line() {
	local file=$1 pattern=$2 secs=$3 pid=$4 partial=${5:-} fd part buf='' deadline last=0
	deadline=$((${EPOCHREALTIME/[.,]/} + secs * 1000000))
	# shellcheck disable=SC2034 # BL_LINE and BL_US are for the caller
	BL_LINE='' BL_US=''
	while [[ ! -e $file ]]; do
		kill -0 "$pid" 2>/dev/null || return 1
		((${EPOCHREALTIME/[.,]/} < deadline)) || return 1
		sleep 0.01
	done
	exec {fd}<"$file"
	while :; do
		while IFS= read -r -u "$fd" part; do
			part=$buf$part
			buf=''
			part=${part%$'\r'}
			if [[ $part =~ $pattern ]]; then
				# shellcheck disable=SC2034 # for the caller
				BL_US=${EPOCHREALTIME/[.,]/} BL_LINE=$part
				exec {fd}<&-
				return 0
			fi
		done
		# read hit the end of the file: keep a partial last line.
		buf+=$part
		if [[ $partial == partial && $buf =~ $pattern ]]; then
			# shellcheck disable=SC2034 # for the caller
			BL_US=${EPOCHREALTIME/[.,]/} BL_LINE=$buf
			exec {fd}<&-
			return 0
		fi
		if ((last)); then
			exec {fd}<&-
			return 1
		fi
		# Gone or out of time: one more pass for what it wrote last.
		if ! kill -0 "$pid" 2>/dev/null || ((${EPOCHREALTIME/[.,]/} >= deadline)); then
			last=1
			continue
		fi
		sleep 0.01
	done
}

# bl_timespan_s SPAN: a time span as systemd prints it ("1min 2.345s",
# "987ms") in seconds; fails on a unit it does not know.
bl_timespan_s() {
	awk '{
		t = 0
		for (i = 1; i <= NF; i++) {
			if (!match($i, /^[0-9.]+/)) exit 1
			v = substr($i, 1, RLENGTH)
			u = substr($i, RLENGTH + 1)
			if (u == "h") t += v * 3600
			else if (u == "min") t += v * 60
			else if (u == "s") t += v
			else if (u == "ms") t += v / 1000
			else if (u == "us" || u == "\302\265s" || u == "\316\274s") t += v / 1000000
			else exit 1
		}
		if (NF) printf "%.3f\n", t
		else exit 1
	}' <<<"$1"
}

# bl_now_us: the wall clock in microseconds (no new process).
bl_now_us() {
	echo "${EPOCHREALTIME/[.,]/}"
}

# bl_expand_cpus LIST: the CPU numbers of a list such as 0-3,6, one a line.
bl_expand_cpus() {
	local part
	for part in ${1//,/ }; do
		if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
	done
}

# bl_vcpu_index COMM: the vCPU number in a VMM's thread name (gvmm's
# gvmm-vcpuN, QEMU's "CPU N/KVM" with -name ...,debug-threads=on), or
# nothing.
bl_vcpu_index() {
	if [[ $1 =~ ^gvmm-vcpu([0-9]+)$ || $1 =~ ^CPU\ ([0-9]+)/KVM$ ]]; then
		echo "${BASH_REMATCH[1]}"
	fi
}

# bl_pin_threads PID NVCPUS VCPU_CPUS REST TENTHS: once process PID has
# NVCPUS vCPU threads (waiting up to TENTHS tenths of a second), puts vCPU
# thread i on the i-th CPU of the comma list VCPU_CPUS and every other
# thread on the CPU list REST. Threads made later inherit their maker's
# placement: one of REST. Fails where the threads did not come in time,
# the process ended or a thread could not be placed.
bl_pin_threads() {
	local pid=$1 n=$2 rest=$4 limit=$5 t comm i found tries
	local -a vcpu_cpus
	IFS=, read -r -a vcpu_cpus <<<"$3"
	for ((tries = 0; ; tries++)); do
		found=0
		for t in /proc/"$pid"/task/*; do
			read -r comm 2>/dev/null <"$t/comm" || continue
			[[ -n $(bl_vcpu_index "$comm") ]] && found=$((found + 1))
		done
		((found >= n)) && break
		((tries < limit)) && kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	for t in /proc/"$pid"/task/*; do
		read -r comm 2>/dev/null <"$t/comm" || continue
		i=$(bl_vcpu_index "$comm")
		if [[ -n $i ]]; then
			[[ -n ${vcpu_cpus[$i]:-} ]] || return 1
			taskset -p -c "${vcpu_cpus[$i]}" "${t##*/}" >/dev/null 2>&1 || return 1
		else
			taskset -p -c "$rest" "${t##*/}" >/dev/null 2>&1 || return 1
		fi
	done
}
