#include "datasets/image_folder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using namespace testing;  // moevit::testing, tests/support/test_files.h

// Listing never decodes, so empty files stand in for images here.
void touch(const std::string& path) {
  write_text(path, "");
}

TEST(ImageFolder, ImageExtensionsInAnyCase) {
  for (const char* name :
       {"a.jpg", "a.JPEG", "b/c.Png", "x.bmp", "x.webp", "x.TIF", "x.tiff", "x.pgm", "x.ppm"})
    EXPECT_TRUE(has_image_extension(name)) << name;
  for (const char* name : {"a.txt", "a.gif", "png", "a.png.bak", "a"})
    EXPECT_FALSE(has_image_extension(name)) << name;
}

TEST(ImageFolder, ClassesSortedByNameNestedFoldersCountHiddenSkipped) {
  TempDir root;
  touch(root / "zebra/1.png");
  touch(root / "zebra/deeper/more/2.JPG");
  touch(root / "ant/a.png");
  touch(root / "ant/b.jpeg");
  touch(root / "ant/notes.txt");
  touch(root / "ant/.hidden.png");
  touch(root / "ant/.cache/c.png");
  touch(root / ".git/x.png");  // a hidden class folder
  touch(root / "README.png");  // a file beside the class folders

  const ImageFolder folder = scan_image_folder(root.path());
  EXPECT_EQ(folder.class_names, (std::vector<std::string>{"ant", "zebra"}));
  ASSERT_EQ(folder.samples.size(), 4u);
  EXPECT_EQ(folder.samples[0].path, root / "ant/a.png");
  EXPECT_EQ(folder.samples[1].path, root / "ant/b.jpeg");
  EXPECT_EQ(folder.samples[2].path, root / "zebra/1.png");
  EXPECT_EQ(folder.samples[3].path, root / "zebra/deeper/more/2.JPG");
  EXPECT_EQ(folder.samples[0].label, 0);
  EXPECT_EQ(folder.samples[1].label, 0);
  EXPECT_EQ(folder.samples[2].label, 1);
  EXPECT_EQ(folder.samples[3].label, 1);
}

TEST(ImageFolder, ErrorsNameThePathAndWhatWasExpected) {
  TempDir root;
  const std::string missing = root / "nope";
  EXPECT_THROW(scan_image_folder(missing), std::invalid_argument);
  EXPECT_NE(error_message([&] { scan_image_folder(missing); }).find(missing + ": expected"),
            std::string::npos);

  touch(root / "file.png");
  EXPECT_THROW(scan_image_folder(root / "file.png"), std::invalid_argument);

  EXPECT_THROW(scan_image_folder(root.path()), std::runtime_error);  // no class folders
  EXPECT_NE(error_message([&] { scan_image_folder(root.path()); }).find("class folders"),
            std::string::npos);

  touch(root / "cat/1.png");
  touch(root / "dog/readme.txt");
  const std::string message = error_message([&] { scan_image_folder(root.path()); });
  EXPECT_NE(message.find(root / "dog"), std::string::npos) << message;
  EXPECT_NE(message.find("image files"), std::string::npos) << message;
}

ImageFolder folder_with_counts(const TempDir& root, const std::vector<int>& counts) {
  for (size_t label = 0; label < counts.size(); ++label)
    for (int i = 0; i < counts[label]; ++i)
      touch(root / ("class" + std::to_string(label) + "/" + std::to_string(i) + ".png"));
  return scan_image_folder(root.path());
}

std::set<std::string> paths_of(const ImageFolder& folder) {
  std::set<std::string> paths;
  for (const ImageSample& sample : folder.samples) paths.insert(sample.path);
  return paths;
}

TEST(ImageFolder, SplitIsPerClassDisjointAndSeeded) {
  TempDir root;
  const ImageFolder folder = folder_with_counts(root, {10, 20, 1});
  const TrainValFolders split = split_image_folder(folder, 0.2, /*seed=*/7);
  EXPECT_TRUE(split.split_from_one_folder);
  EXPECT_EQ(split.train.class_names, folder.class_names);
  EXPECT_EQ(split.val.class_names, folder.class_names);
  std::vector<int> val_per_class(3, 0);
  for (const ImageSample& sample : split.val.samples) ++val_per_class[sample.label];
  EXPECT_EQ(val_per_class, (std::vector<int>{2, 4, 0}));  // a lone image stays in train
  EXPECT_EQ(split.train.samples.size(), 31u - 6u);

  std::set<std::string> all = paths_of(split.train);
  for (const std::string& path : paths_of(split.val)) EXPECT_TRUE(all.insert(path).second);
  EXPECT_EQ(all, paths_of(folder));

  EXPECT_EQ(paths_of(split_image_folder(folder, 0.2, 7).val), paths_of(split.val));
  EXPECT_NE(paths_of(split_image_folder(folder, 0.2, 8).val), paths_of(split.val));
  EXPECT_TRUE(split_image_folder(folder, 0.0, 7).val.samples.empty());
  EXPECT_THROW(split_image_folder(folder, 1.0, 7), std::invalid_argument);
  EXPECT_THROW(split_image_folder(folder, -0.1, 7), std::invalid_argument);
}

TEST(ImageFolder, ResolveUsesTrainAndValFoldersWhenPresent) {
  TempDir root;
  touch(root / "train/a/1.png");
  touch(root / "train/a/2.png");
  touch(root / "train/b/1.png");
  touch(root / "val/a/1.png");
  touch(root / "val/b/1.png");
  const TrainValFolders folders = resolve_train_val(root.path(), 0.5, 1);
  EXPECT_FALSE(folders.split_from_one_folder);
  EXPECT_EQ(folders.train.samples.size(), 3u);
  EXPECT_EQ(folders.val.samples.size(), 2u);

  touch(root / "val/c/1.png");
  EXPECT_THROW(resolve_train_val(root.path(), 0.5, 1), std::runtime_error);
}

TEST(ImageFolder, ResolveSplitsOneFolderOtherwise) {
  TempDir root;
  folder_with_counts(root, {4, 4});
  const TrainValFolders folders = resolve_train_val(root.path(), 0.25, 1);
  EXPECT_TRUE(folders.split_from_one_folder);
  EXPECT_EQ(folders.train.samples.size(), 6u);
  EXPECT_EQ(folders.val.samples.size(), 2u);
}

// CIFAR-10's layout: validation comes from a split of train/, and test/ is never read.
TEST(ImageFolder, TrainAndTestWithoutValSplitsTrainAndLeavesTestAlone) {
  TempDir root;
  for (const char* path : {"train/cat/1.png", "train/cat/2.png", "train/dog/1.png",
                           "train/dog/2.png", "test/cat/1.png", "test/dog/1.png"})
    touch(root / path);
  try {
    resolve_train_val(root.path(), 0.0, 1);
    ADD_FAILURE() << "a train/ + test/ root without data.val_split was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()),
              root.path() +
                  ": has train/ but no val/: expected data.val_split > 0 (validation, "
                  "which picks best.pt, is then split from train/; evaluate a test/ "
                  "folder once trained, with moevit eval --data " +
                  (root / "test") + ")");
  }
  const TrainValFolders folders = resolve_train_val(root.path(), 0.5, 1);
  EXPECT_TRUE(folders.split_from_one_folder);
  EXPECT_EQ(folders.train.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(folders.train.samples.size(), 2u);
  EXPECT_EQ(folders.val.samples.size(), 2u);
  for (const ImageFolder* part : {&folders.train, &folders.val})
    for (const ImageSample& sample : part->samples)
      EXPECT_NE(sample.path.find("/train/"), std::string::npos) << sample.path;
}

TEST(ImageFolder, HeldOutFolderIsValThenTestBesideTrainThenTheRoot) {
  TempDir root;
  touch(root / "cat/1.png");
  EXPECT_EQ(held_out_folder(root.path()), root.path());
  touch(root / "test/cat/1.png");  // a class named test: no train/ beside it
  EXPECT_EQ(held_out_folder(root.path()), root.path());
  touch(root / "train/cat/1.png");
  EXPECT_EQ(held_out_folder(root.path()), root / "test");
  touch(root / "val/cat/1.png");
  EXPECT_EQ(held_out_folder(root.path()), root / "val");
}

}  // namespace
}  // namespace moevit
