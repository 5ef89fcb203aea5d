// One training per output folder: two runs writing one folder would interleave their
// checkpoints and metrics. A run holds OUT/train.lock: an flock(2) on that file, which the
// kernel releases however the process ends (so a lock is never left held by a dead run), and in
// it the holder's pid and host, which a refused run names. A lock file whose writer no longer
// holds it (the run was killed, or stopped at once by a second signal, before removing it) is
// taken over with a note.
#pragma once

#include <string>

namespace moevit {

class RunLock {
 public:
  // Takes the lock of `output_dir`, creating the folder. Throws std::runtime_error, one line
  // naming the lock file and the holder's pid and host, while another process holds it, or
  // naming the folder when it cannot be created or written. When a stale lock file was taken
  // over, `note` (may be null) gets one line saying whose it was.
  RunLock(const std::string& output_dir, std::string* note);
  // Removes the file, then releases the lock; removes the folder too when it made it and it
  // is left empty.
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string output_dir_;
  bool created_folder_ = false;
  int descriptor_ = -1;
};

}  // namespace moevit
