#include "core/occasion.hpp"

#include <gtest/gtest.h>

using namespace candle;

TEST(Occasion, BuiltinMessagesMatchTheContract) {
  auto* b = find_occasion("birthday");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->date_field, "birthdayDate");
  EXPECT_EQ(b->message.render({"Ada", "Lovelace"}), "Hey, Ada Lovelace it's your birthday");
  auto* a = find_occasion("anniversary");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->date_field, "anniversaryDate");
  EXPECT_EQ(a->message.render({"Ada", "Lovelace"}), "Hey, Ada Lovelace happy anniversary");
  EXPECT_EQ(find_occasion("wedding"), nullptr);
  for (const auto& o : builtin_occasions())
    EXPECT_EQ(o.send_at, (time_of_day{9, 0})) << o.name;
}

TEST(Occasion, TemplatesRenderVerbatimIncludingUnicode) {
  auto t = message_template::compile("{firstName}{lastName}!{lastName}");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render({"Zoë", "Ñúñez"}), "ZoëÑúñez!Ñúñez");
  auto plain = message_template::compile("no variables");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->render({"x", "y"}), "no variables");
}

TEST(Occasion, BadTemplatesAreRejected) {
  for (auto bad : {"Hey {name}", "Hey {firstName", "Hey firstName}", "{}", "{{firstName}}"})
    EXPECT_FALSE(message_template::compile(bad)) << bad;
}
