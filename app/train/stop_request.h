// SIGINT and SIGTERM during training. The first asks the loop to stop after the step it is in
// (the ranks agree on that step, app/train/rank_agreement.h; last.pt is written; the command
// exits 130 or 143 saying how to resume). A second one exits at once: the last good checkpoint
// is whole, as every checkpoint is written to a temporary file and renamed.
//
// A signal handler can reach only process-wide state, so this file owns the one piece of it in
// moevit: at most one StopSignals lives at a time, and the training loop reads it through
// TrainHooks::stop_signal, never directly.
#pragma once

#include <string>

namespace moevit {

class StopSignals {
 public:
  // Catches SIGINT and SIGTERM until destroyed (the previous handlers come back then).
  // `checkpoint_path` (e.g. runs/x/last.pt) is named when a second signal stops at once;
  // `announce`: print one line on stderr when a signal arrives (rank 0 only, so a job of N
  // ranks prints it once). Throws std::logic_error while another StopSignals is alive.
  StopSignals(const std::string& checkpoint_path, bool announce);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The first signal caught (SIGINT or SIGTERM), or 0 when none came.
  int received() const;
};

// While alive, a second signal removes `path` (the temporary file of a checkpoint being
// written, PATH.tmp of app/run/atomic_write.h) before it exits, so a stop at once leaves no
// partial file behind. Harmless when no StopSignals is alive.
class PartialFileGuard {
 public:
  explicit PartialFileGuard(const std::string& path);
  ~PartialFileGuard();
  PartialFileGuard(const PartialFileGuard&) = delete;
  PartialFileGuard& operator=(const PartialFileGuard&) = delete;
};

// "SIGINT", "SIGTERM", or "signal N".
std::string signal_name(int signal);

}  // namespace moevit
