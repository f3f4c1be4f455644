# Stack sampler for gdb (perf does not work on this machine; valgrind cannot read the
# binary's debug info). Loaded by sample.sh: every INTERVAL_US of the target's CPU time,
# records the main thread's stack (innermost first, ';'-separated) and lets it run on.
import gdb, os

N = int(os.environ.get("SAMPLES", "1000"))
inferior = gdb.selected_inferior()
pid = inferior.pid
gdb.execute("set pagination off")
# A signal sent from outside (kill) is only acted on when the target next enters the
# kernel, which on this VM means its next system call: such samples pile up on syscalls
# (a loop of 8 µs of arithmetic and one 0.4 µs getrandom gave 91% getrandom). So the
# target is made to interrupt itself instead: an ITIMER_PROF timer raises SIGPROF from
# the timer tick, at a point proportional to CPU time. Its disposition is set to ignore
# (a traced process still reports ignored signals to gdb; without gdb nothing happens),
# and gdb does not pass it on. "noprint" would imply "nostop", so keep "print".
INTERVAL_US = int(os.environ.get("INTERVAL_US", "10000"))
gdb.execute("set $pk_tv = (long *) malloc(32)")
gdb.execute("set $pk_tv[0] = 0")
gdb.execute("set $pk_tv[1] = %d" % INTERVAL_US)
gdb.execute("set $pk_tv[2] = 0")
gdb.execute("set $pk_tv[3] = %d" % INTERVAL_US)
gdb.execute("call (long) ((long (*)(int, long)) signal)(27, 1)")          # SIGPROF, SIG_IGN
gdb.execute("call (int) ((int (*)(int, long *, long *)) setitimer)(2, $pk_tv, 0)")  # ITIMER_PROF
gdb.execute("handle SIGPROF stop print nopass")
out = open(os.environ["OUT"], "w")
for _ in range(N):
    try:
        gdb.execute("continue", to_string=True)
    except gdb.error as error:
        out.write("#error %s\n" % error)
        break
    main = [t for t in inferior.threads() if t.ptid[1] == pid]
    if not main:
        continue
    main[0].switch()
    frames = []
    frame = gdb.newest_frame()
    while frame is not None and len(frames) < 80:
        frames.append(frame.name() or "??")
        frame = frame.older()
    out.write(";".join(frames) + "\n")
    out.flush()
try:
    gdb.execute("set $pk_tv[1] = 0")
    gdb.execute("set $pk_tv[3] = 0")
    gdb.execute("call (int) ((int (*)(int, long *, long *)) setitimer)(2, $pk_tv, 0)")  # timer off
    gdb.execute("detach")
except gdb.error:
    pass
