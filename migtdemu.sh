#!/usr/bin/env bash
# migtdemu.sh - run MigTD-Py in AzCVMEmu mode: one side, or both on this host.
#
# Option names, defaults, validation messages and log-file names follow the
# upstream MigTD runner so existing muscle memory and CI scripts keep working.
# Differences: nothing is built (--debug/--release only pick the default log
# level), cargo features map to runtime switches of `migtd`, and with --both
# the exit status is non-zero when either side fails.

set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---------------------------------------------------------------- defaults --
# Paths you pass are taken relative to where you run the script, and the log
# files are written there too. What each side of a run gets (arguments,
# environment, default files, every check that needs no process) is decided
# by the run planner, `migtd-tool plan`, which migtd-console uses as well. The
# default files are the installed package's (`migtd-tool paths`), so a copy of
# this script outside the checkout works against an installed MigTD-Py;
# MIGTD_CONFIG_DIR replaces them, MIGTD_COLLATERAL_SOURCE is passed on.

role="source"
request_id="1"
operation="migration"
dest_ip="127.0.0.1"
dest_port="8001"
policy_file=""
root_ca_file=""
issuer_chain_file=""
src_policy_file=""
src_issuer_chain_file=""
dst_policy_file=""
dst_issuer_chain_file=""
build_mode="release"
policy_v2=false
skip_ra=false
mock_report=false
mock_quote_file=""
mock_quote_retry=false
init_migtd_data=""
skip_policy_generation=false
run_both=false
use_sudo=true
features=""
key_exchange="ratls"
quote_request="direct"
log_level=""
num_cpus="1"

# Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
    RED=$'\033[0;31m'; GREEN=$'\033[0;32m'; YELLOW=$'\033[1;33m'; BLUE=$'\033[0;34m'; NC=$'\033[0m'
else
    RED=""; GREEN=""; YELLOW=""; BLUE=""; NC=""
fi

say()  { printf '%s\n' "$*"; }
info() { printf '%s%s%s\n' "$BLUE" "$*" "$NC"; }
good() { printf '%s%s%s\n' "$GREEN" "$*" "$NC"; }
note() { printf '%s%s%s\n' "$YELLOW" "$*" "$NC"; }
die()  { printf '%sError: %s%s\n' "$RED" "$1" "$NC" >&2; shift; for l in "$@"; do printf '%s\n' "$l" >&2; done; exit 1; }

usage() {
    cat <<EOF
MigTD-Py AzCVMEmu runner

Usage: $0 [OPTIONS]

Options:
  -r, --role ROLE              'source' or 'destination' (default: source)
  -i, --request-id ID          migration request ID (default: 1)
  -o, --operation OP           'migration' (default), 'rebind-prepare' or 'rebind-finalize'
  -d, --dest-ip IP             destination IP address (default: 127.0.0.1)
  -p, --dest-port PORT         destination port (default: 8001)
  --policy-file FILE           policy file (default: config/policy.json)
  --root-ca-file FILE          root CA (default: config/mock/root_ca.der with --mock-report
                               or --skip-ra, else config/Intel_SGX_Provisioning_Certification_RootCA.cer)
  --policy-issuer-chain-file FILE
                               policy issuer chain (required with --policy-v2)
  --src-policy-file FILE       source-only policy file (overrides --policy-file)
  --src-policy-issuer-chain-file FILE
                               source-only policy issuer chain
  --dst-policy-file FILE       destination-only policy file (overrides --policy-file)
  --dst-policy-issuer-chain-file FILE
                               destination-only policy issuer chain
  --debug                      default log level debug (nothing is built)
  --release                    default log level info (default)
  --policy-v2                  use migration policy v2 (needs --policy-file and
                               --policy-issuer-chain-file unless generated, see below)
  --skip-ra                    no remote attestation: accept any peer (testing only)
  --mock-report                full attestation with the project's mock QE and mock PKI
  --mock-quote-file FILE       use a captured quote (e.g. a real Azure quote) on both sides;
                               implies --mock-report
  --mock-quote-retry           make the first 5 quote requests fail to exercise the retry path
  --skip-policy-generation     with --policy-v2 --mock-report: do not generate a policy
                               (otherwise ./config/AzCVMEmu/policy_v2_signed.json and
                               ./config/AzCVMEmu/policy_issuer_chain.pem are written here,
                               where upstream's runner writes them)
  --init-migtd-data FILE       policy v2: the emulated VMM hands both sides this initMigtdData
                               (the init MigTD's 512-byte TDINFO; see migtd-tool init-data)
  --both                       start the destination in the background, then the source
  --no-sudo                    never use sudo
  --features LIST              upstream cargo feature names, mapped to runtime switches
                               (AzCVMEmu, policy_v2, test_disable_ra_and_accept_all,
                               test_mock_report, mock_quote_retry; spdm_attestation: the MSK over
                               SPDM 1.2, migtd --key-exchange spdm; igvm-attest: quotes through the
                               IGVM GetQuote buffer, migtd --quote-request igvm)
  --log-level LEVEL            trace, debug, info, warn or error (sets RUST_LOG)
  --num-cpus NUM               pin to CPUs 0..NUM-1 with taskset (default: 1)
  -h, --help                   show this help

Notes:
  - Azure mode (the default) reads TD reports from the vTPM (TSS2_TCTI, default
    device:/dev/tpmrm0) and quotes from IMDS; if the TPM device is not accessible
    the script uses sudo, unless you are root.
  - Each side's arguments and environment come from the run planner
    ('migtd-tool plan'), the same one migtd-console uses; it also refuses, before
    anything starts, a request that cannot run (missing files, a mock quote
    without its collateral, an output file that is one of the inputs).
  - The default policy, root CAs and mock PKI are the installed package's
    ('migtd-tool paths'; MIGTD_CONFIG_DIR replaces the folder). With azure or
    --mock-quote-file, MIGTD_COLLATERAL_SOURCE (pcs, pccs:URL, thim:URL) may
    replace MIGTD_COLLATERAL_FILE: migtd then fetches the collateral.
  - NO_COLOR set: no colours even on a terminal.
  - --both writes dest_<operation>_out.log (destination output) and
    migtd_<operation>_{destination,source}.log (MIGTD_LOG_FILE of each side).
  - Rebinding operations always use policy v2. rebind-finalize clears the rebinding
    session token on each side (upstream's MigTD rejects that request).
  - --features spdm_attestation and igvm-attest combine with every mode, policy
    version and operation, as upstream's runner allows (rebinding over SPDM needs
    policy v2, which rebinding always uses).

Examples:
  $0 --skip-ra --both
  $0 --mock-report --both
  MIGTD_COLLATERAL_FILE=collateral_azure_thim.json \\
  $0 --mock-report --mock-quote-file az_migtd_quote.blob \\
     --root-ca-file Intel_SGX_Provisioning_Certification_RootCA.cer --both
  $0 --policy-v2 --mock-report --both          (policy generated from the mock report into
                                               ./config/AzCVMEmu/, where upstream's examples name it)
  $0 --operation rebind-prepare --policy-file ./config/AzCVMEmu/policy_v2_signed.json \\
     --policy-issuer-chain-file ./config/AzCVMEmu/policy_issuer_chain.pem --mock-report --both
  $0 --operation rebind-finalize --skip-ra --policy-file p.json --policy-issuer-chain-file c.pem --both
  $0 --role destination --mock-report -p 9001
  $0 --features spdm_attestation --mock-report --both   (SPDM instead of RA-TLS)
  $0 --features spdm_attestation,igvm-attest --policy-v2 --skip-ra \
     --policy-file p.json --policy-issuer-chain-file c.pem --both
  migtd-tool init-data --policy ./config/AzCVMEmu/policy_v2_signed.json \\
     --chain ./config/AzCVMEmu/policy_issuer_chain.pem --out init.bin
  $0 --policy-v2 --mock-report --init-migtd-data init.bin --both
  Upstream's migtdemu.sh --help examples run here as written; its --mock-quote-file example needs
  MIGTD_COLLATERAL_FILE, the azure ones a vTPM.

Policy v2 files (written where you run them):
  migtd-tool policy generate-v2 --out p.json --chain-out c.pem [--new-chain] [--quote Q]
  migtd-tool policy generate-rotation --variant none|policy|policy-mapping|all --out-dir DIR
EOF
}

# ------------------------------------------------------------------ parse --
need_value() { [[ $# -ge 2 ]] || die "option $1 needs a value" "Use --help for usage information."; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        -r|--role)                      need_value "$@"; role="$2"; shift 2 ;;
        -i|--request-id)                need_value "$@"; request_id="$2"; shift 2 ;;
        -o|--operation)                 need_value "$@"; operation="$2"; shift 2 ;;
        -d|--dest-ip)                   need_value "$@"; dest_ip="$2"; shift 2 ;;
        -p|--dest-port)                 need_value "$@"; dest_port="$2"; shift 2 ;;
        --policy-file)                  need_value "$@"; policy_file="$2"; shift 2 ;;
        --root-ca-file)                 need_value "$@"; root_ca_file="$2"; shift 2 ;;
        --policy-issuer-chain-file)     need_value "$@"; issuer_chain_file="$2"; shift 2 ;;
        --src-policy-file)              need_value "$@"; src_policy_file="$2"; shift 2 ;;
        --src-policy-issuer-chain-file) need_value "$@"; src_issuer_chain_file="$2"; shift 2 ;;
        --dst-policy-file)              need_value "$@"; dst_policy_file="$2"; shift 2 ;;
        --dst-policy-issuer-chain-file) need_value "$@"; dst_issuer_chain_file="$2"; shift 2 ;;
        --debug)                        build_mode="debug"; shift ;;
        --release)                      build_mode="release"; shift ;;
        --policy-v2)                    policy_v2=true; shift ;;
        --skip-ra)                      skip_ra=true; shift ;;
        --mock-report)                  mock_report=true; shift ;;
        --mock-quote-file)              need_value "$@"; mock_quote_file="$2"; shift 2 ;;
        --mock-quote-retry)             mock_quote_retry=true; shift ;;
        --init-migtd-data)              need_value "$@"; init_migtd_data="$2"; shift 2 ;;
        --skip-policy-generation)       skip_policy_generation=true; shift ;;
        --both)                         run_both=true; shift ;;
        --no-sudo)                      use_sudo=false; shift ;;
        --features)                     need_value "$@"; features="$2"; shift 2 ;;
        --log-level)                    need_value "$@"; log_level="$2"; shift 2 ;;
        --num-cpus)                     need_value "$@"; num_cpus="$2"; shift 2 ;;
        --build)                        shift ;;  # accepted for compatibility; nothing to build
        -h|--help)                      usage; exit 0 ;;
        *)                              die "Unknown option $1" "Use --help for usage information." ;;
    esac
done

# Cargo features become the runtime switches they stand for.
if [[ -n "$features" ]]; then
    IFS=',' read -r -a feature_list <<<"$features"
    for f in "${feature_list[@]}"; do
        f="${f// /}"
        case "$f" in
            ""|AzCVMEmu|main|vmcall-raw) ;;
            policy_v2)                       policy_v2=true ;;
            test_disable_ra_and_accept_all)  skip_ra=true ;;
            test_mock_report)                mock_report=true ;;
            mock_quote_retry)                mock_quote_retry=true ;;
            spdm_attestation)                key_exchange="spdm" ;;
            igvm-attest)                     quote_request="igvm" ;;
            *)
                die "unknown feature '$f'" "Known features: AzCVMEmu, policy_v2, test_disable_ra_and_accept_all, test_mock_report, mock_quote_retry, spdm_attestation, igvm-attest" ;;
        esac
    done
fi

# ------------------------------------------------------------- validate ---
case "$operation" in
    migration|rebind-prepare|rebind-finalize) ;;
    *) die "Operation must be 'migration', 'rebind-prepare', or 'rebind-finalize', got: $operation" ;;
esac
if [[ "$operation" != migration ]]; then
    policy_v2=true
fi

if [[ -n "$mock_quote_file" && "$mock_report" != true ]]; then
    note "Note: --mock-quote-file specified, automatically enabling --mock-report"
    mock_report=true
fi
if [[ -n "$mock_quote_file" && "$mock_quote_file" != /* ]]; then
    mock_quote_file="$(pwd)/$mock_quote_file"
    note "Note: Converted relative path to absolute: $mock_quote_file"
fi

available_cpus=$(nproc)
cpus_given="$num_cpus"
(( ${#cpus_given} <= 24 )) || cpus_given="${cpus_given:0:21}..."  # shown cut: one short line
[[ "$num_cpus" =~ ^[0-9]+$ ]] || die "--num-cpus must be a positive integer, got: $cpus_given"
num_cpus="${num_cpus#"${num_cpus%%[!0]*}"}"  # leading zeros would make bash read octal
[[ -n "$num_cpus" ]] || die "--num-cpus must be at least 1, got: $cpus_given"
# compare as text first: thousands of digits would overflow bash arithmetic
(( ${#num_cpus} <= 6 && num_cpus <= available_cpus )) \
    || die "Requested $cpus_given CPUs but only $available_cpus available"

if [[ "$run_both" != true && "$role" != source && "$role" != destination ]]; then
    die "Role must be 'source' or 'destination', got: $role"
fi
if [[ -n "$log_level" ]]; then
    case "$log_level" in
        trace|debug|info|warn|error) ;;
        *) die "--log-level must be one of trace, debug, info, warn, error, got: $log_level" ;;
    esac
fi

rust_log="${RUST_LOG:-}"
if [[ -z "$rust_log" ]]; then
    if [[ -n "$log_level" ]]; then rust_log="$log_level"
    elif [[ "$build_mode" == debug ]]; then rust_log="debug"
    else rust_log="info"; fi
fi

# ------------------------------------------------------------ find migtd --
if [[ -x "$here/.venv/bin/migtd" ]]; then
    migtd_bin="$here/.venv/bin/migtd"
    migtd_tool="$here/.venv/bin/migtd-tool"
    found_where="the project's virtual environment"
elif command -v migtd >/dev/null 2>&1; then
    migtd_bin="$(command -v migtd)"
    migtd_tool="$(command -v migtd-tool || true)"
    found_where="PATH"
else
    die "migtd not found in $here/.venv or on PATH" "Install it first: ./scripts/setup.sh"
fi
[[ -n "$migtd_tool" && -x "$migtd_tool" ]] || die "migtd-tool not found beside $migtd_bin" \
    "Install it first: ./scripts/setup.sh"
info "Using migtd from $found_where: $migtd_bin"

# ------------------------------------------------------------------ plan ---
# The planner checks the request and prints each side's argv and environment
# as shell assignments (plan_env_<role>, plan_args_<role>, …), every value quoted.
plan_request=(plan --format sh --front script --operation "$operation" --request-id "$request_id"
              --dest-ip "$dest_ip" --dest-port "$dest_port" --log-level "$rust_log")
[[ "$skip_ra" == true ]] && plan_request+=(--skip-ra)
[[ "$mock_report" == true ]] && plan_request+=(--mock-report)
[[ -n "$mock_quote_file" ]] && plan_request+=(--mock-quote-file "$mock_quote_file")
[[ "$policy_v2" == true ]] && plan_request+=(--policy-version 2)
[[ "$key_exchange" != ratls ]] && plan_request+=(--key-exchange "$key_exchange")
[[ "$quote_request" != direct ]] && plan_request+=(--quote-request "$quote_request")
[[ -n "$policy_file" ]] && plan_request+=(--policy-file "$policy_file")
[[ -n "$src_policy_file" ]] && plan_request+=(--src-policy-file "$src_policy_file")
[[ -n "$dst_policy_file" ]] && plan_request+=(--dst-policy-file "$dst_policy_file")
[[ -n "$issuer_chain_file" ]] && plan_request+=(--policy-issuer-chain-file "$issuer_chain_file")
[[ -n "$src_issuer_chain_file" ]] && plan_request+=(--src-policy-issuer-chain-file "$src_issuer_chain_file")
[[ -n "$dst_issuer_chain_file" ]] && plan_request+=(--dst-policy-issuer-chain-file "$dst_issuer_chain_file")
[[ -n "$root_ca_file" ]] && plan_request+=(--root-ca-file "$root_ca_file")
[[ -n "${MIGTD_COLLATERAL_FILE:-}" ]] && plan_request+=(--collateral-file "$MIGTD_COLLATERAL_FILE")
[[ -n "${MIGTD_COLLATERAL_SOURCE:-}" ]] && plan_request+=(--collateral-source "$MIGTD_COLLATERAL_SOURCE")
[[ "$mock_quote_retry" == true ]] && plan_request+=(--quote-failures 5)
[[ -n "$init_migtd_data" ]] && plan_request+=(--init-migtd-data "$init_migtd_data")
[[ "$skip_policy_generation" != true ]] && plan_request+=(--generate-into "$(pwd)")
dest_out="dest_${operation}_out.log"
if [[ "$run_both" == true ]]; then
    plan_request+=(--role destination --role source
                   --log-file "destination=migtd_${operation}_destination.log"
                   --log-file "source=migtd_${operation}_source.log"
                   --output "destination output=$dest_out")
else
    plan_request+=(--role "$role")
fi
plan_text="$("$migtd_tool" "${plan_request[@]}")" || exit 1
eval "$plan_text"

# Generated files go under ./config/AzCVMEmu of the folder the script is run in, as upstream's do.
if (( ${#plan_generate[@]} > 0 )); then
    info "=== Generating policy v2 from mock report data ==="
    "$migtd_tool" "${plan_generate[@]}" || die "Failed to generate policy from mock report data"
    good "Policy generated successfully from mock report data"
fi

# ------------------------------------------------------------- sudo/TPM ---
if [[ "$plan_needs_tpm" == true ]]; then
    if [[ "$use_sudo" == false ]]; then
        for dev in /dev/tpmrm0 /dev/tpm0; do
            if [[ -e "$dev" && ( ! -r "$dev" || ! -w "$dev" ) ]]; then
                note "TPM2TSS detected and current user lacks sufficient permissions. Enabling sudo automatically."
                use_sudo=true
                break
            fi
        done
    fi
else
    use_sudo=false  # mock and skip-RA runs never touch a TPM
fi
if [[ "$(id -u)" == 0 ]]; then
    use_sudo=false
fi
if [[ "$use_sudo" == true ]] && ! command -v sudo >/dev/null 2>&1; then
    die "sudo is needed for TPM access but is not installed" "Run as root or use --no-sudo with a readable TPM device."
fi

if (( num_cpus == 1 )); then cpu_list="0"; else cpu_list="0-$((num_cpus - 1))"; fi
launcher=()
if command -v taskset >/dev/null 2>&1; then
    launcher=(taskset -c "$cpu_list")
    taskset_desc="taskset -c $cpu_list"
else
    taskset_desc="none (taskset not installed)"
fi

# ---------------------------------------------------------- show config ---
good "Configuration:"
say "  Build mode: $build_mode (no build step; selects the default log level)"
say "  Operation: $operation"
if [[ "$policy_v2" == true ]]; then say "  Policy version: v2"; else say "  Policy version: v1 (default)"; fi
say "  $plan_summary"
if [[ "$plan_key_exchange" == spdm ]]; then
    say "  Key exchange: SPDM 1.2 with MigTD's vendor-defined messages (spdm_attestation)"
else
    say "  Key exchange: RA-TLS (TLS 1.3 with quotes in the certificates)"
fi
[[ "$plan_quote_request" == igvm ]] && say "  Quote request: IGVM GetQuote buffer (igvm-attest)"
if [[ "$run_both" == true ]]; then say "  Mode: both (destination then source)"; else say "  Role: $role"; fi
say "  Destination: ${dest_ip}:${dest_port}"
say "  Request ID: $request_id"
say "  CPU affinity: $num_cpus (using: $taskset_desc)"
if [[ "$plan_policy_source" == "$plan_policy_destination" && "$plan_chain_source" == "$plan_chain_destination" ]]; then
    say "  Policy file: $plan_policy_source"
    [[ "$policy_v2" == true ]] && say "  Policy issuer chain file: $plan_chain_source"
else
    say "  Source policy file: $plan_policy_source"
    say "  Dest policy file: $plan_policy_destination"
    if [[ "$policy_v2" == true ]]; then
        say "  Source issuer chain: $plan_chain_source"
        say "  Dest issuer chain: $plan_chain_destination"
    fi
fi
[[ "$policy_v2" != true ]] && say "  Root CA file: $plan_root_ca"
[[ -n "$mock_quote_file" ]] && say "  Mock Quote file: $mock_quote_file"
[[ "$mock_quote_retry" == true ]] && say "  Mock quote retry: first 5 quote requests fail"
[[ -n "$init_migtd_data" ]] && say "  Init MigTD data: $init_migtd_data"
say "  Use sudo: $use_sudo"
say

# Environment and arguments of one side, as the planner made them: side_env/side_args arrays.
side_setup() {
    local role_env="plan_env_$1[@]" role_args="plan_args_$1[@]"
    side_env=("${!role_env}")
    side_args=("${!role_args}")
}

run_side() {
    if [[ "$use_sudo" == true ]]; then
        sudo env "${side_env[@]}" "${launcher[@]}" "$migtd_bin" "${side_args[@]}"
    else
        env "${side_env[@]}" "${launcher[@]}" "$migtd_bin" "${side_args[@]}"
    fi
}

show_command() {
    local prefix=""
    [[ "$use_sudo" == true ]] && prefix="sudo "
    note "Command: ${prefix}${side_env[*]} ${launcher[*]} $migtd_bin ${side_args[*]}"
}

port_listening() {
    if command -v ss >/dev/null 2>&1; then
        ss -Hlnt "sport = :$dest_port" 2>/dev/null | grep -q .
    else
        # bounded: a connect to an address that drops SYNs would otherwise hang for minutes
        timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$dest_ip" "$dest_port" 2>/dev/null
    fi
}

if [[ "$run_both" == true ]]; then
    info "=== Running ($operation) with both sides ==="
    if port_listening; then
        die "port ${dest_port} is already in use on this host" "Pick another port with --dest-port."
    fi
    info "Starting destination in background..."
    side_setup destination
    show_command
    run_side >"$dest_out" 2>&1 &
    dest_pid=$!
    good "Destination started with PID ${dest_pid}. Logs: ${dest_out}"

    cleanup() {
        if kill -0 "$dest_pid" 2>/dev/null; then
            note "Stopping destination process (PID ${dest_pid})..."
            kill "$dest_pid" 2>/dev/null || true
            wait "$dest_pid" 2>/dev/null || true
        fi
    }
    trap cleanup EXIT INT TERM

    # migtd binds its port before its slower set-up (the peer's policy v2 verification, the mode's
    # trust files) and says "TCP server started successfully" once ready; a destination that then
    # refuses its set-up would leave the source retrying a dead port until its --timeout. So wait for
    # the port and, at a level that logs it, for that line (up to 5 s more for a RUST_LOG we cannot read).
    case "$rust_log" in
        error|warn|warning|off) ready_line=false ;;
        *) ready_line=true ;;
    esac
    dest_ready() {
        port_listening || return 1
        [[ "$ready_line" == true ]] || return 0
        grep -aq "TCP server started successfully on" "$dest_out" && return 0
        if [[ -z "${listen_seen:-}" ]]; then listen_seen=$SECONDS; fi
        (( SECONDS - listen_seen >= 5 ))
    }
    info "Waiting for ${dest_ip}:${dest_port} to listen (timeout 20s)..."
    deadline=$((SECONDS + 20))
    until dest_ready; do
        if ! kill -0 "$dest_pid" 2>/dev/null; then
            # It refused its configuration (or crashed): say why in one line, end with its own code.
            wait "$dest_pid"
            dst_rc=$?
            trap - EXIT INT TERM
            note "Last 50 lines of ${dest_out}:"
            tail -n 50 "$dest_out" || true
            why="$(grep -a -o 'MigTD exiting with .*' "$dest_out" | tail -n 1 | cut -c 1-500)"
            [[ -n "$why" ]] || why="$(grep -a -m 1 . "$dest_out" | cut -c 1-500)"
            printf '%sError: the destination exited with code %s before listening on %s:%s: %s%s\n' \
                "$RED" "$dst_rc" "$dest_ip" "$dest_port" "${why:-no output}" "$NC" >&2
            exit "$(( dst_rc == 0 ? 1 : dst_rc ))"
        fi
        if (( SECONDS >= deadline )); then
            printf '%sError: the destination did not start listening on %s:%s within 20 s.%s\n' \
                "$RED" "$dest_ip" "$dest_port" "$NC" >&2
            note "Last 50 lines of ${dest_out}:"
            tail -n 50 "$dest_out" || true
            exit 1
        fi
        sleep 0.05
    done
    good "Port ${dest_port} is now listening."

    info "Starting source (foreground)..."
    side_setup source
    show_command
    say
    run_side
    src_rc=$?
    info "Source migtd exit code: $src_rc"

    # Give the destination a moment to finish its side, then reap it.
    for _ in $(seq 1 100); do
        kill -0 "$dest_pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$dest_pid" 2>/dev/null; then
        info "Destination is still running, stopping it..."
        kill "$dest_pid" 2>/dev/null || true
    fi
    wait "$dest_pid"
    dst_rc=$?
    trap - EXIT INT TERM
    info "Destination migtd exit code: $dst_rc"

    if (( src_rc != 0 || dst_rc != 0 )); then
        say
        printf '%s✗✗✗ FAILURE: (%s) failed (source exit code: %s, destination exit code: %s) ✗✗✗%s\n' \
            "$RED" "$operation" "$src_rc" "$dst_rc" "$NC"
        printf '%sLast 100 lines of destination output (%s):%s\n' "$RED" "$dest_out" "$NC"
        tail -n 100 "$dest_out" || true
        if (( src_rc != 0 )); then exit "$src_rc"; fi
        exit "$dst_rc"
    fi
    say
    good "✓✓✓ SUCCESS: ($operation) completed! ✓✓✓"
    exit 0
fi

info "Starting MigTD ($operation) in $role mode..."
side_setup "$role"
show_command
say
run_side
rc=$?
info "MigTD exit code: $rc"
exit "$rc"
