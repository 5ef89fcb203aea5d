// Files a run writes (checkpoints, config.yaml, figures, CSV) appear whole or not at all: each
// is written to PATH.tmp, then renamed over PATH.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace moevit {

// Writes through `write(temporary_path)`, then renames onto `path`: a crash or an exception
// at any moment leaves the previous file intact. The temporary file is removed on failure.
// Creates `path`'s parent folders.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string& temporary_path)>& write);

// `size` bytes from `data` through write_atomically; errors name the temporary path.
void write_bytes_atomically(const std::string& path, const char* data, std::size_t size);

// Writes `text` through write_atomically; errors name the temporary path.
void write_text_file(const std::string& path, const std::string& text);

// A new file written by a caller that must not see a write fail midway: write() always reports
// success; the first error (a full disk: ENOSPC) is kept and later writes are skipped; close()
// flushes the file to disk and throws that error, "PATH: write failed (REASON)". LibTorch's
// archive writer (OutputArchive::save_to) is such a caller: a short write makes it throw, its
// destructor then writes the archive's end again, throws again and the process ends in
// std::terminate, exit 134 (pytorch issues #87997, #156955).
class CheckedFileWriter {
 public:
  // Creates or truncates `path`; throws "PATH: cannot open for writing (REASON)".
  explicit CheckedFileWriter(std::string path);
  ~CheckedFileWriter();  // closes without the checks of close(): for unwinding
  CheckedFileWriter(const CheckedFileWriter&) = delete;
  CheckedFileWriter& operator=(const CheckedFileWriter&) = delete;

  // Returns `size`, whatever happened (see above).
  std::size_t write(const void* data, std::size_t size);
  // fsync, then close; throws the first error of any write, of fsync or of close.
  void close();

 private:
  [[noreturn]] void fail(int error_number) const;

  std::string path_;
  int descriptor_ = -1;
  int first_error_ = 0;  // errno of the first failed write, 0 while none failed
};

}  // namespace moevit
