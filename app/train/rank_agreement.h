// What the ranks of a data-parallel job decide together, each with one small all-reduce, so
// that no rank goes its own way and leaves the others waiting in a collective until the
// timeout: the step a signal stops the job at, whether a step is skipped (a non-finite loss on
// any rank), and whether rank 0 holds the output folder.
// With one process (or no world) both are local decisions and nothing is sent.
#pragma once

#include <memory>
#include <string>

namespace moevit {

class World;
class RunLock;

// The signal that stops the job now: `received` is this rank's (SIGINT, SIGTERM, or 0 for
// none); every rank calls this at the same point of the loop and gets the same answer, SIGTERM
// when any rank got it (a scheduler's), else SIGINT when any got that, else 0.
int agreed_stop_signal(int received, World* world);

// Whether `local` holds on any rank (this one's alone without a world).
bool any_rank(bool local, World* world);

// Rank 0 takes the output folder's lock (app/run/run_lock.h); the other ranks hold none, as
// they write nothing there. When rank 0 is refused, every rank throws: rank 0 with the
// refusal naming the holder, the others saying rank 0 was refused. A note that rank 0 took
// over a stale lock goes to `note` (rank 0 only). Returns rank 0's lock, nullptr elsewhere.
std::unique_ptr<RunLock> lock_output_folder(World& world, const std::string& output_dir,
                                            std::string* note);

}  // namespace moevit
