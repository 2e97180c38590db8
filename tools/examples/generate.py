"""Synthetic example data: `python -m voicescount.examples` writes data/VN, KE, BD, official.

The book must build from a fresh clone without real (personal) data, so a seeded generator
writes realistic, clearly labelled SYNTHETIC exports shaped like real downloads (Kobo XLSX/CSV,
ODK Central CSV, SPSS, Stata) with their XLSForms, cycle.yml files, side files, population
margins and official SDG series. Output is byte-identical for a seed (fixed zip dates, pinned
SPSS/Stata header timestamps, preformatted numbers); tests compare data/ with a fresh run.

Question wording: the Washington Group Short Set (WG-SS) items are worded exactly as the WG
publishes them in English; the UNICEF/WG Child Functioning Module (CFM, ages 5-17) items follow
the module's caregiver wording with "this child" in place of "(name)". Other languages are
careful translations, not official WG translations.
"""

from __future__ import annotations

LANG_NAMES = {"en": "English", "vi": "Vietnamese", "sw": "Swahili", "bn": "Bengali"}


def T(en: str, vi: str = "", sw: str = "", bn: str = "") -> dict[str, str]:
    """A label in several languages; empty translations are left out (forms fall back to en)."""
    out = {"en": en, "vi": vi, "sw": sw, "bn": bn}
    return {k: v for k, v in out.items() if v}


YES_NO = [
    ("yes", T("Yes", "Có", "Ndiyo", "হ্যাঁ")),
    ("no", T("No", "Không", "Hapana", "না")),
]

# WG-SS and CFM difficulty scale, codes 1-4 as the WG tabulates them.
DIFFICULTY = [
    (
        "1",
        T(
            "No - no difficulty",
            "Không – không khó khăn",
            "Hapana – sina ugumu",
            "না – কোনো অসুবিধা নেই",
        ),
    ),
    (
        "2",
        T(
            "Yes - some difficulty",
            "Có – khó khăn một chút",
            "Ndiyo – ugumu kiasi",
            "হ্যাঁ – কিছুটা অসুবিধা",
        ),
    ),
    (
        "3",
        T(
            "Yes - a lot of difficulty",
            "Có – rất khó khăn",
            "Ndiyo – ugumu mwingi",
            "হ্যাঁ – অনেক অসুবিধা",
        ),
    ),
    ("4", T("Cannot do at all", "Hoàn toàn không thể làm được", "Siwezi kabisa", "একেবারেই পারি না")),
]

FREQUENCY = [
    ("1", T("Daily", "Hằng ngày", "Kila siku", "প্রতিদিন")),
    ("2", T("Weekly", "Hằng tuần", "Kila wiki", "প্রতি সপ্তাহে")),
    ("3", T("Monthly", "Hằng tháng", "Kila mwezi", "প্রতি মাসে")),
    ("4", T("A few times a year", "Vài lần một năm", "Mara chache kwa mwaka", "বছরে কয়েকবার")),
    ("5", T("Never", "Không bao giờ", "Kamwe", "কখনো না")),
]

SEX = [
    ("female", T("Female", "Nữ", "Mwanamke", "নারী")),
    ("male", T("Male", "Nam", "Mwanaume", "পুরুষ")),
    ("intersex", T("Intersex", "Liên giới tính", "Intersex", "আন্তঃলিঙ্গ")),
]

GENDER_IDENTITY = [
    ("woman", T("Woman", "Phụ nữ", "Mwanamke", "নারী")),
    ("man", T("Man", "Nam giới", "Mwanaume", "পুরুষ")),
    (
        "transgender_woman",
        T(
            "Transgender woman",
            "Phụ nữ chuyển giới",
            "Mwanamke aliyebadili jinsia",
            "ট্রান্সজেন্ডার নারী",
        ),
    ),
    (
        "transgender_man",
        T(
            "Transgender man",
            "Nam giới chuyển giới",
            "Mwanaume aliyebadili jinsia",
            "ট্রান্সজেন্ডার পুরুষ",
        ),
    ),
    ("non_binary", T("Non-binary", "Phi nhị nguyên giới", "Asiye na jinsia mbili", "নন-বাইনারি")),
    ("other", T("Other", "Khác", "Nyingine", "অন্যান্য")),
    (
        "prefer_not_to_say",
        T("Prefer not to say", "Không muốn trả lời", "Sipendi kusema", "বলতে চাই না"),
    ),
]

ORIENTATION = [
    (
        "heterosexual",
        T("Heterosexual (straight)", "Dị tính", "Mwenye mvuto kwa jinsia tofauti", "বিষমকামী"),
    ),
    ("lesbian", T("Lesbian", "Đồng tính nữ", "Msagaji", "লেসবিয়ান")),
    ("gay", T("Gay", "Đồng tính nam", "Shoga", "গে")),
    ("bisexual", T("Bisexual", "Song tính", "Mwenye mvuto kwa jinsia zote", "উভকামী")),
    ("other", T("Other", "Khác", "Nyingine", "অন্যান্য")),
    (
        "prefer_not_to_say",
        T("Prefer not to say", "Không muốn trả lời", "Sipendi kusema", "বলতে চাই না"),
    ),
]

ETHNICITY = [
    (
        "majority",
        T(
            "National majority group",
            "Dân tộc đa số",
            "Kundi kubwa la kitaifa",
            "সংখ্যাগরিষ্ঠ জনগোষ্ঠী",
        ),
    ),
    ("minority", T("Ethnic minority", "Dân tộc thiểu số", "Kabila dogo", "নৃগোষ্ঠী সংখ্যালঘু")),
    (
        "prefer_not_to_say",
        T("Prefer not to say", "Không muốn trả lời", "Sipendi kusema", "বলতে চাই না"),
    ),
]

URBAN_RURAL = [
    ("urban", T("Urban", "Thành thị", "Mjini", "শহর")),
    ("rural", T("Rural", "Nông thôn", "Vijijini", "গ্রাম")),
]

EDUCATION = [
    ("none", T("No schooling", "Chưa đi học", "Hakuna elimu", "কোনো শিক্ষা নেই")),
    ("primary", T("Primary", "Tiểu học", "Msingi", "প্রাথমিক")),
    (
        "lower_secondary",
        T("Lower secondary", "Trung học cơ sở", "Sekondari ya chini", "নিম্ন মাধ্যমিক"),
    ),
    (
        "upper_secondary",
        T("Upper secondary", "Trung học phổ thông", "Sekondari ya juu", "উচ্চ মাধ্যমিক"),
    ),
    (
        "tertiary",
        T(
            "College or university",
            "Cao đẳng hoặc đại học",
            "Chuo au chuo kikuu",
            "কলেজ বা বিশ্ববিদ্যালয়",
        ),
    ),
]

WORK_STATUS = [
    (
        "employed",
        T("Working for someone else", "Làm công ăn lương", "Nimeajiriwa", "অন্যের অধীনে কাজ করি"),
    ),
    (
        "self_employed",
        T(
            "Own business or farm",
            "Tự kinh doanh hoặc làm nông",
            "Biashara au shamba langu",
            "নিজের ব্যবসা বা খামার",
        ),
    ),
    ("unemployed", T("Looking for work", "Đang tìm việc", "Natafuta kazi", "কাজ খুঁজছি")),
    ("student", T("Student", "Đang đi học", "Mwanafunzi", "শিক্ষার্থী")),
    (
        "homemaker",
        T(
            "Looking after the home or family",
            "Nội trợ, chăm sóc gia đình",
            "Ninatunza nyumba au familia",
            "গৃহস্থালি বা পরিবারের দেখাশোনা",
        ),
    ),
    (
        "unable_to_work",
        T("Unable to work", "Không có khả năng làm việc", "Siwezi kufanya kazi", "কাজ করতে অক্ষম"),
    ),
    ("retired", T("Retired", "Đã nghỉ hưu", "Mstaafu", "অবসরপ্রাপ্ত")),
    ("other", T("Other", "Khác", "Nyingine", "অন্যান্য")),
]

SAFE4 = [
    ("very_safe", T("Very safe", "Rất an toàn", "Salama sana", "খুব নিরাপদ")),
    ("safe", T("Safe", "An toàn", "Salama", "নিরাপদ")),
    ("unsafe", T("Unsafe", "Không an toàn", "Si salama", "অনিরাপদ")),
    ("very_unsafe", T("Very unsafe", "Rất không an toàn", "Si salama kabisa", "খুবই অনিরাপদ")),
    (
        "never_walk",
        T(
            "I never walk alone after dark",
            "Tôi không bao giờ đi bộ một mình khi trời tối",
            "Sitembei peke yangu usiku kamwe",
            "আমি কখনো অন্ধকারে একা হাঁটি না",
        ),
    ),
]

SATISFACTION5 = [
    ("1", T("Very dissatisfied", "Rất không hài lòng", "Sijaridhika kabisa", "খুবই অসন্তুষ্ট")),
    ("2", T("Dissatisfied", "Không hài lòng", "Sijaridhika", "অসন্তুষ্ট")),
    ("3", T("Neither satisfied nor dissatisfied", "Bình thường", "Kadri", "সন্তুষ্টও না, অসন্তুষ্টও না")),
    ("4", T("Satisfied", "Hài lòng", "Nimeridhika", "সন্তুষ্ট")),
    ("5", T("Very satisfied", "Rất hài lòng", "Nimeridhika sana", "খুবই সন্তুষ্ট")),
]

AGREE4 = [
    ("strongly_agree", T("Strongly agree", "Rất đồng ý", "Nakubali kabisa", "সম্পূর্ণ একমত")),
    ("agree", T("Agree", "Đồng ý", "Nakubali", "একমত")),
    ("disagree", T("Disagree", "Không đồng ý", "Sikubali", "একমত নই")),
    (
        "strongly_disagree",
        T("Strongly disagree", "Hoàn toàn không đồng ý", "Sikubali kabisa", "একেবারেই একমত নই"),
    ),
    ("dont_know", T("Don't know", "Không biết", "Sijui", "জানি না")),
]

GROUNDS = [
    ("sex", T("Sex or gender", "Giới tính", "Jinsia", "লিঙ্গ")),
    ("age", T("Age", "Tuổi", "Umri", "বয়স")),
    ("disability", T("Disability", "Khuyết tật", "Ulemavu", "প্রতিবন্ধিতা")),
    ("ethnicity", T("Ethnicity", "Dân tộc", "Kabila", "নৃগোষ্ঠী")),
    (
        "sexual_orientation",
        T("Sexual orientation", "Xu hướng tính dục", "Mwelekeo wa kimapenzi", "যৌন অভিমুখিতা"),
    ),
    (
        "gender_identity",
        T("Gender identity", "Bản dạng giới", "Utambulisho wa kijinsia", "লিঙ্গ পরিচয়"),
    ),
    ("income", T("Income or wealth", "Thu nhập hoặc mức sống", "Kipato", "আয় বা সম্পদ")),
    ("religion", T("Religion", "Tôn giáo", "Dini", "ধর্ম")),
    ("other", T("Other reason", "Lý do khác", "Sababu nyingine", "অন্য কারণ")),
]

READ3 = [
    ("easily", T("Yes, easily", "Có, dễ dàng", "Ndiyo, kwa urahisi", "হ্যাঁ, সহজে")),
    (
        "with_difficulty",
        T("Yes, with difficulty", "Có, nhưng khó khăn", "Ndiyo, kwa shida", "হ্যাঁ, কষ্ট করে"),
    ),
    ("cannot", T("No", "Không", "Hapana", "না")),
]

SAFE_SCHOOL = [
    ("always", T("Always", "Luôn luôn", "Daima", "সবসময়")),
    ("mostly", T("Most of the time", "Hầu hết thời gian", "Mara nyingi", "বেশিরভাগ সময়")),
    ("sometimes", T("Sometimes", "Thỉnh thoảng", "Wakati mwingine", "মাঝে মাঝে")),
    ("never", T("Never", "Không bao giờ", "Kamwe", "কখনো না")),
]

ORG_TYPE = [
    (
        "ngo",
        T("Non-governmental organisation", "Tổ chức phi chính phủ", "Shirika lisilo la kiserikali"),
    ),
    ("community_group", T("Community-based group", "Nhóm cộng đồng", "Kikundi cha kijamii")),
    ("youth_union", T("Youth organisation", "Tổ chức thanh niên", "Shirika la vijana")),
    ("women_union", T("Women's organisation", "Tổ chức phụ nữ", "Shirika la wanawake")),
    (
        "dpo",
        T(
            "Organisation of persons with disabilities",
            "Tổ chức của người khuyết tật",
            "Shirika la watu wenye ulemavu",
        ),
    ),
    ("lgbt_group", T("LGBT group", "Nhóm LGBT", "Kikundi cha LGBT")),
    ("other", T("Other", "Khác", "Nyingine")),
]

CSO_AREAS = [
    ("sdg1", T("Poverty (SDG 1)", "Giảm nghèo (SDG 1)", "Umaskini (SDG 1)")),
    ("sdg4", T("Education (SDG 4)", "Giáo dục (SDG 4)", "Elimu (SDG 4)")),
    ("sdg5", T("Gender equality (SDG 5)", "Bình đẳng giới (SDG 5)", "Usawa wa kijinsia (SDG 5)")),
    ("sdg8", T("Decent work (SDG 8)", "Việc làm bền vững (SDG 8)", "Kazi ya staha (SDG 8)")),
    (
        "sdg13",
        T(
            "Climate action (SDG 13)",
            "Ứng phó biến đổi khí hậu (SDG 13)",
            "Hatua za tabianchi (SDG 13)",
        ),
    ),
    (
        "sdg16",
        T(
            "Peace, justice and institutions (SDG 16)",
            "Hòa bình, công lý và thể chế (SDG 16)",
            "Amani, haki na taasisi (SDG 16)",
        ),
    ),
    ("other", T("Other", "Khác", "Nyingine")),
]

SPACE5 = [
    ("1", T("Closed", "Rất hạn chế", "Imefungwa")),
    ("2", T("Repressed", "Bị kìm hãm", "Imekandamizwa")),
    ("3", T("Obstructed", "Bị cản trở", "Imezuiliwa")),
    ("4", T("Narrowed", "Bị thu hẹp", "Imepunguzwa")),
    ("5", T("Open", "Cởi mở", "Iko wazi")),
]

# Questions: (type, name, label, extras). Groups are begin_group rows with a label.
INTRO = T(
    "SYNTHETIC EXAMPLE FORM - not a real survey. Interviewer: read the consent statement.",
    "BIỂU MẪU VÍ DỤ TỔNG HỢP – không phải khảo sát thật. Điều tra viên: đọc lời đồng ý tham gia.",
    "FOMU YA MFANO ILIYOTENGENEZWA – si utafiti halisi. Mhojaji: soma taarifa ya ridhaa.",
    "কৃত্রিম উদাহরণ ফর্ম – প্রকৃত জরিপ নয়। সাক্ষাৎকারগ্রহণকারী: সম্মতির বিবৃতি পড়ুন।",
)

WG_QUESTIONS = [
    (
        "wg_seeing",
        T(
            "Do you have difficulty seeing, even if wearing glasses?",
            "Anh/chị có gặp khó khăn khi nhìn, ngay cả khi đeo kính không?",
            "Je, una ugumu wa kuona, hata ukivaa miwani?",
            "চশমা পরা সত্ত্বেও কি আপনার দেখতে অসুবিধা হয়?",
        ),
    ),
    (
        "wg_hearing",
        T(
            "Do you have difficulty hearing, even if using a hearing aid?",
            "Anh/chị có gặp khó khăn khi nghe, ngay cả khi dùng máy trợ thính không?",
            "Je, una ugumu wa kusikia, hata ukitumia kifaa cha kusaidia kusikia?",
            "শ্রবণযন্ত্র ব্যবহার করা সত্ত্বেও কি আপনার শুনতে অসুবিধা হয়?",
        ),
    ),
    (
        "wg_walking",
        T(
            "Do you have difficulty walking or climbing steps?",
            "Anh/chị có gặp khó khăn khi đi bộ hoặc leo bậc thang không?",
            "Je, una ugumu wa kutembea au kupanda ngazi?",
            "আপনার কি হাঁটতে বা সিঁড়ি বেয়ে উঠতে অসুবিধা হয়?",
        ),
    ),
    (
        "wg_cognition",
        T(
            "Do you have difficulty remembering or concentrating?",
            "Anh/chị có gặp khó khăn khi ghi nhớ hoặc tập trung không?",
            "Je, una ugumu wa kukumbuka au kuzingatia jambo?",
            "আপনার কি কিছু মনে রাখতে বা মনোযোগ দিতে অসুবিধা হয়?",
        ),
    ),
    (
        "wg_selfcare",
        T(
            "Do you have difficulty (with self-care such as) washing all over or dressing?",
            "Anh/chị có gặp khó khăn (khi tự chăm sóc bản thân như) tắm rửa toàn thân hoặc mặc quần áo không?",
            "Je, una ugumu (wa kujihudumia kama vile) kuoga mwili mzima au kuvaa nguo?",
            "আপনার কি (নিজের যত্ন নিতে, যেমন) পুরো শরীর ধুতে বা পোশাক পরতে অসুবিধা হয়?",
        ),
    ),
    (
        "wg_communication",
        T(
            "Using your usual (customary) language, do you have difficulty communicating, for example understanding or being understood?",
            "Khi sử dụng ngôn ngữ thông thường của mình, anh/chị có gặp khó khăn khi giao tiếp, ví dụ như hiểu người khác hoặc được người khác hiểu không?",
            "Ukitumia lugha yako ya kawaida, je, una ugumu wa kuwasiliana, kwa mfano kuelewa au kueleweka?",
            "আপনার স্বাভাবিক ভাষা ব্যবহার করে কি আপনার যোগাযোগ করতে, যেমন অন্যকে বুঝতে বা অন্যের কাছে বোধগম্য হতে অসুবিধা হয়?",
        ),
    ),
]

CF_QUESTIONS = [
    (
        "cf_seeing",
        "difficulty",
        T(
            "Does this child have difficulty seeing (when wearing glasses or contact lenses, if used)?",
            "Cháu có gặp khó khăn khi nhìn không (khi đeo kính, nếu có dùng)?",
            bn="শিশুটির কি দেখতে অসুবিধা হয় (চশমা বা কন্টাক্ট লেন্স ব্যবহার করলে, তা পরা অবস্থায়)?",
        ),
    ),
    (
        "cf_hearing",
        "difficulty",
        T(
            "Does this child have difficulty hearing sounds like people's voices or music (when using a hearing aid, if used)?",
            "Cháu có gặp khó khăn khi nghe các âm thanh như giọng nói hay tiếng nhạc không (khi dùng máy trợ thính, nếu có)?",
            bn="শিশুটির কি মানুষের কণ্ঠস্বর বা গানের মতো শব্দ শুনতে অসুবিধা হয় (শ্রবণযন্ত্র ব্যবহার করলে, তা ব্যবহার করা অবস্থায়)?",
        ),
    ),
    (
        "cf_walking",
        "difficulty",
        T(
            "Without equipment or assistance, does this child have difficulty walking 100 meters on level ground? That would be about the length of 1 football field.",
            "Khi không có dụng cụ hoặc người hỗ trợ, cháu có gặp khó khăn khi đi bộ 100 mét trên đường bằng không? Khoảng bằng chiều dài một sân bóng đá.",
            bn="কোনো সরঞ্জাম বা সহায়তা ছাড়া শিশুটির কি সমতল জমিতে ১০০ মিটার হাঁটতে অসুবিধা হয়? এটি প্রায় একটি ফুটবল মাঠের দৈর্ঘ্যের সমান।",
        ),
    ),
    (
        "cf_selfcare",
        "difficulty",
        T(
            "Does this child have difficulty with self-care such as feeding or dressing him/herself?",
            "Cháu có gặp khó khăn khi tự chăm sóc bản thân như tự ăn hoặc tự mặc quần áo không?",
            bn="শিশুটির কি নিজের যত্ন নিতে, যেমন নিজে খেতে বা পোশাক পরতে অসুবিধা হয়?",
        ),
    ),
    (
        "cf_communication",
        "difficulty",
        T(
            "When this child speaks, does he/she have difficulty being understood by people outside of this household?",
            "Khi cháu nói, cháu có gặp khó khăn để người ngoài gia đình hiểu được không?",
            bn="শিশুটি যখন কথা বলে, তখন কি পরিবারের বাইরের লোকদের কাছে বোধগম্য হতে তার অসুবিধা হয়?",
        ),
    ),
    (
        "cf_learning",
        "difficulty",
        T(
            "Compared with children of the same age, does this child have difficulty learning things?",
            "So với trẻ cùng tuổi, cháu có gặp khó khăn khi học những điều mới không?",
            bn="একই বয়সী শিশুদের তুলনায় শিশুটির কি কিছু শিখতে অসুবিধা হয়?",
        ),
    ),
    (
        "cf_remembering",
        "difficulty",
        T(
            "Compared with children of the same age, does this child have difficulty remembering things?",
            "So với trẻ cùng tuổi, cháu có gặp khó khăn khi ghi nhớ không?",
            bn="একই বয়সী শিশুদের তুলনায় শিশুটির কি কিছু মনে রাখতে অসুবিধা হয়?",
        ),
    ),
    (
        "cf_concentrating",
        "difficulty",
        T(
            "Does this child have difficulty concentrating on an activity that he/she enjoys doing?",
            "Cháu có gặp khó khăn khi tập trung vào một hoạt động mà cháu thích không?",
            bn="শিশুটির কি তার পছন্দের কোনো কাজে মনোযোগ দিতে অসুবিধা হয়?",
        ),
    ),
    (
        "cf_accepting_change",
        "difficulty",
        T(
            "Compared with children of the same age, does this child have difficulty accepting changes in his/her routine?",
            "So với trẻ cùng tuổi, cháu có gặp khó khăn khi chấp nhận những thay đổi trong sinh hoạt hằng ngày không?",
            bn="একই বয়সী শিশুদের তুলনায় শিশুটির কি তার দৈনন্দিন রুটিনের পরিবর্তন মেনে নিতে অসুবিধা হয়?",
        ),
    ),
    (
        "cf_behaviour",
        "difficulty",
        T(
            "Compared with children of the same age, does this child have difficulty controlling his/her behaviour?",
            "So với trẻ cùng tuổi, cháu có gặp khó khăn khi kiểm soát hành vi của mình không?",
            bn="একই বয়সী শিশুদের তুলনায় শিশুটির কি নিজের আচরণ নিয়ন্ত্রণ করতে অসুবিধা হয়?",
        ),
    ),
    (
        "cf_friends",
        "difficulty",
        T(
            "Does this child have difficulty making friends?",
            "Cháu có gặp khó khăn khi kết bạn không?",
            bn="শিশুটির কি বন্ধু বানাতে অসুবিধা হয়?",
        ),
    ),
    (
        "cf_anxiety",
        "frequency",
        T(
            "How often does this child seem very anxious, nervous or worried?",
            "Cháu có thường tỏ ra rất lo âu, bồn chồn hoặc lo lắng không?",
            bn="শিশুটিকে কত ঘন ঘন খুব উদ্বিগ্ন, অস্থির বা চিন্তিত মনে হয়?",
        ),
    ),
    (
        "cf_depression",
        "frequency",
        T(
            "How often does this child seem very sad or depressed?",
            "Cháu có thường tỏ ra rất buồn hoặc chán nản không?",
            bn="শিশুটিকে কত ঘন ঘন খুব দুঃখী বা বিষণ্ণ মনে হয়?",
        ),
    ),
]

GROUPS = {
    "intro": T(
        "Introduction and consent",
        "Giới thiệu và đồng ý tham gia",
        "Utangulizi na ridhaa",
        "পরিচিতি ও সম্মতি",
    ),
    "location": T("Location", "Địa bàn", "Mahali", "অবস্থান"),
    "demographics": T("About you", "Thông tin cá nhân", "Kuhusu wewe", "আপনার সম্পর্কে"),
    "wg": T(
        "Difficulties you may have doing certain activities because of a HEALTH PROBLEM",
        "Những khó khăn anh/chị có thể gặp khi làm một số hoạt động do VẤN ĐỀ SỨC KHỎE",
        "Ugumu unaoweza kuwa nao katika kufanya shughuli fulani kwa sababu ya TATIZO LA KIAFYA",
        "স্বাস্থ্য সমস্যার কারণে কিছু কাজ করতে আপনার যে অসুবিধা হতে পারে",
    ),
    "cfm": T(
        "Child functioning (asked of the mother or primary caregiver)",
        "Chức năng của trẻ (hỏi mẹ hoặc người chăm sóc chính)",
        bn="শিশুর কার্যক্ষমতা (মা বা প্রধান পরিচর্যাকারীকে জিজ্ঞাসা করুন)",
    ),
    "sdg1": T(
        "Basic services and social protection",
        "Dịch vụ cơ bản và an sinh xã hội",
        "Huduma za msingi na hifadhi ya jamii",
        "মৌলিক সেবা ও সামাজিক সুরক্ষা",
    ),
    "sdg4": T("Education and learning", "Giáo dục và học tập", "Elimu na mafunzo", "শিক্ষা ও শেখা"),
    "sdg5": T(
        "Gender equality and safety",
        "Bình đẳng giới và an toàn",
        "Usawa wa kijinsia na usalama",
        "লিঙ্গ সমতা ও নিরাপত্তা",
    ),
    "sdg8": T("Work", "Việc làm", "Kazi", "কাজ"),
    "sdg13": T(
        "Climate and disasters", "Khí hậu và thiên tai", "Tabianchi na majanga", "জলবায়ু ও দুর্যোগ"
    ),
    "sdg16": T(
        "Safety, justice and participation",
        "An toàn, công lý và sự tham gia",
        "Usalama, haki na ushiriki",
        "নিরাপত্তা, ন্যায়বিচার ও অংশগ্রহণ",
    ),
    "org": T("About your organisation", "Về tổ chức của anh/chị", "Kuhusu shirika lako"),
    "cso": T(
        "Civic space and participation",
        "Không gian dân sự và sự tham gia",
        "Nafasi ya kiraia na ushiriki",
    ),
    "school": T("School and learning", "Trường học và học tập", bn="বিদ্যালয় ও শেখা"),
    "voice": T("Safety and being heard", "An toàn và được lắng nghe", bn="নিরাপত্তা ও কথা শোনা"),
    "contact": T(
        "Follow-up contact (kept separately, removed before analysis)",
        "Liên hệ lại (lưu riêng, xóa trước khi phân tích)",
        "Mawasiliano ya ufuatiliaji (yanahifadhiwa kando, yanaondolewa kabla ya uchambuzi)",
        "পরবর্তী যোগাযোগ (আলাদাভাবে রাখা হয়, বিশ্লেষণের আগে মুছে ফেলা হয়)",
    ),
    "design": T(
        "Sample design (calculated)", "Thiết kế mẫu (tự tính)", "Muundo wa sampuli", "নমুনা নকশা"
    ),
    "closing": T("Closing", "Kết thúc", "Kufunga", "সমাপ্তি"),
}


# =========================================================================== the generator
# Everything below turns a seed into files. Nothing here may depend on the clock, the
# machine or dict/set iteration order of unseeded objects: the committed data/ must be
# byte-identical to a fresh run (tests/test_examples.py checks it).

import csv  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import uuid  # noqa: E402
import zipfile  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

# The side files' headers are the schemas voices.py reads them with (one definition).
from .voices import ACTIVITY_COLUMNS, SEGMENT_COLUMNS  # noqa: E402

DEFAULT_SEED = 20240917
FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
FIXED_DOC_TIME = datetime(2020, 1, 1, 0, 0, 0)
CANARY_NAME = "Nguyen Van Canary"
CANARY_PHONE = "+84 912 000 111"
HOSTILE_FORMULA = '=HYPERLINK("http://example.invalid","click")'
HOSTILE_SCRIPT = "<script>alert(1)</script>"
SYNTHETIC_NOTE = (
    "SYNTHETIC EXAMPLE DATA generated by `python -m voicescount.examples`; "
    "not collected from real people."
)


# --------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class Q:
    """One XLSForm survey row: a question, a group boundary, a note or a calculation."""

    type: str
    name: str = ""
    label: dict = field(default_factory=dict)
    relevant: str = ""
    required: bool = False
    constraint: str = ""
    calculation: str = ""
    appearance: str = ""

    @property
    def list_name(self) -> str | None:
        parts = self.type.split()
        return parts[1] if parts[0] in ("select_one", "select_multiple") else None


def _group(name: str, relevant: str = "") -> Q:
    return Q("begin_group", name, GROUPS[name], relevant=relevant)


END = Q("end_group")
CONSENTED = "${consent} = 'yes'"


def _meta() -> list[Q]:
    return [Q("start", "start"), Q("end", "end"), Q("deviceid", "deviceid")]


def _location(gps: bool) -> list[Q]:
    rows = [
        _group("location", CONSENTED),
        Q("select_one region", "region", T("Region", "Vùng", "Eneo", "বিভাগ"), required=True),
        Q("text", "province", T("Province / county / district", "Tỉnh/thành phố", "Kaunti", "জেলা")),
        Q(
            "select_one urban_rural",
            "urban_rural",
            T("Place of residence", "Nơi cư trú", "Makazi", "বসবাসের স্থান"),
            required=True,
        ),
        Q(
            "text",
            "commune_id",
            T(
                "Commune / ward code (from the sample list)",
                "Mã xã/phường (theo danh sách mẫu)",
                "Nambari ya kata (kutoka orodha ya sampuli)",
                "ইউনিয়ন/ওয়ার্ড কোড (নমুনা তালিকা থেকে)",
            ),
            required=True,
        ),
    ]
    if gps:
        rows.append(
            Q(
                "geopoint",
                "gps",
                T("Record the location", "Ghi lại vị trí", "Rekodi mahali", "অবস্থান রেকর্ড করুন"),
            )
        )
    return rows + [END]


def _intro(children: bool = False) -> list[Q]:
    rows = [
        _group("intro"),
        Q("note", "intro_note", INTRO),
        Q(
            "text",
            "enumerator",
            T("Interviewer code", "Mã điều tra viên", "Nambari ya mhojaji", "সাক্ষাৎকারগ্রহণকারীর কোড"),
            required=True,
        ),
        Q(
            "date",
            "interview_date",
            T("Date of interview", "Ngày phỏng vấn", "Tarehe ya mahojiano", "সাক্ষাৎকারের তারিখ"),
            required=True,
        ),
    ]
    if children:
        rows += [
            Q(
                "select_one yes_no",
                "guardian_consent",
                T(
                    "Has the parent or guardian given informed consent?",
                    "Cha mẹ hoặc người giám hộ đã đồng ý cho cháu tham gia chưa?",
                    bn="পিতামাতা বা অভিভাবক কি অবহিত সম্মতি দিয়েছেন?",
                ),
                required=True,
            ),
            Q(
                "select_one yes_no",
                "child_assent",
                T(
                    "Does the child agree to take part?",
                    "Cháu có đồng ý tham gia không?",
                    bn="শিশুটি কি অংশ নিতে রাজি?",
                ),
                relevant="${guardian_consent} = 'yes'",
                required=True,
            ),
            Q(
                "calculate",
                "consent",
                calculation="if(${guardian_consent} = 'yes' and ${child_assent} = 'yes', 'yes', 'no')",
            ),
        ]
    else:
        rows.append(
            Q(
                "select_one yes_no",
                "consent",
                T(
                    "Do you agree to take part in this interview?",
                    "Anh/chị có đồng ý tham gia phỏng vấn này không?",
                    "Je, unakubali kushiriki katika mahojiano haya?",
                    "আপনি কি এই সাক্ষাৎকারে অংশ নিতে সম্মত?",
                ),
                required=True,
            )
        )
    return rows + [END]


def _design(psu: str, by_region: bool = False) -> list[Q]:
    return [
        _group("design", CONSENTED),
        Q(
            "calculate",
            "stratum",
            calculation="${region}" if by_region else "concat(${region}, '_', ${urban_rural})",
        ),
        Q(
            "calculate",
            "weight",
            calculation=f"pulldata('sample_frame', 'weight', 'psu', ${{{psu}}})",
        ),
        END,
    ]


def _contact(who: dict) -> list[Q]:
    return [
        _group("contact", CONSENTED),
        Q(
            "select_one yes_no",
            "recontact",
            T(
                "May we contact you again about the results?",
                "Chúng tôi có thể liên hệ lại với anh/chị về kết quả không?",
                "Je, tunaweza kuwasiliana nawe tena kuhusu matokeo?",
                "ফলাফল নিয়ে আমরা কি আবার আপনার সাথে যোগাযোগ করতে পারি?",
            ),
        ),
        Q("text", "respondent_name", who, relevant="${recontact} = 'yes'"),
        Q(
            "text",
            "phone",
            T("Phone number", "Số điện thoại", "Nambari ya simu", "ফোন নম্বর"),
            relevant="${recontact} = 'yes'",
            appearance="numbers",
        ),
        END,
    ]


def _closing() -> list[Q]:
    return [
        _group("closing", CONSENTED),
        Q(
            "text",
            "q_comment",
            T(
                "Is there anything else you would like to tell us?",
                "Anh/chị có muốn chia sẻ thêm điều gì không?",
                "Je, kuna jambo lingine ungependa kutuambia?",
                "আপনি কি আমাদের আর কিছু বলতে চান?",
            ),
            appearance="multiline",
        ),
        END,
    ]


def adults_form(age_min: int) -> list[Q]:
    """Youth, women and people with disabilities: WG-SS plus items for SDGs 1, 4, 5, 8, 13, 16."""
    return (
        _meta()
        + _intro()
        + _location(gps=True)
        + [
            _group("demographics", CONSENTED),
            Q("select_one sex", "sex", T("Sex", "Giới tính", "Jinsia", "লিঙ্গ"), required=True),
            Q(
                "integer",
                "age",
                T(
                    "How old are you (completed years)?",
                    "Anh/chị bao nhiêu tuổi (tròn năm)?",
                    "Una umri wa miaka mingapi?",
                    "আপনার বয়স কত (পূর্ণ বছর)?",
                ),
                required=True,
                constraint=f". >= {age_min} and . <= 110",
            ),
            Q(
                "select_one gender_identity",
                "gender_identity",
                T(
                    "How do you describe your gender? (voluntary)",
                    "Anh/chị tự xác định giới của mình là gì? (tự nguyện)",
                    "Unajitambulisha vipi kijinsia? (hiari)",
                    "আপনি আপনার লিঙ্গ পরিচয় কীভাবে বর্ণনা করেন? (ঐচ্ছিক)",
                ),
            ),
            Q(
                "select_one sexual_orientation",
                "sexual_orientation",
                T(
                    "How do you describe your sexual orientation? (voluntary)",
                    "Anh/chị tự xác định xu hướng tính dục của mình là gì? (tự nguyện)",
                    "Unaelezaje mwelekeo wako wa kimapenzi? (hiari)",
                    "আপনি আপনার যৌন অভিমুখিতা কীভাবে বর্ণনা করেন? (ঐচ্ছিক)",
                ),
            ),
            Q(
                "select_one ethnicity",
                "ethnicity",
                T(
                    "Which group do you belong to?",
                    "Anh/chị thuộc nhóm dân tộc nào?",
                    "Wewe ni wa kundi gani?",
                    "আপনি কোন জনগোষ্ঠীর?",
                ),
            ),
            Q(
                "text",
                "ethnic_group",
                T(
                    "Name of your ethnic group",
                    "Tên dân tộc của anh/chị",
                    "Jina la kabila lako",
                    "আপনার নৃগোষ্ঠীর নাম",
                ),
            ),
            END,
            _group("wg", CONSENTED),
            *[Q("select_one difficulty", n, lab, required=True) for n, lab in WG_QUESTIONS],
            END,
            _group("sdg1", CONSENTED),
            Q(
                "select_one yes_no",
                "q_water_basic",
                T(
                    "Does your household get drinking water from an improved source within a 30-minute round trip?",
                    "Hộ gia đình anh/chị có nguồn nước uống hợp vệ sinh trong vòng 30 phút đi về không?",
                    "Je, kaya yako inapata maji ya kunywa kutoka chanzo bora ndani ya dakika 30 kwenda na kurudi?",
                    "আপনার খানা কি যাওয়া-আসা ৩০ মিনিটের মধ্যে উন্নত উৎস থেকে পানীয় জল পায়?",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_social_assist",
                T(
                    "In the last 12 months, did you receive any social assistance (cash or in kind)?",
                    "Trong 12 tháng qua, anh/chị có nhận được trợ giúp xã hội nào (tiền hoặc hiện vật) không?",
                    "Katika miezi 12 iliyopita, ulipokea msaada wowote wa kijamii?",
                    "গত ১২ মাসে আপনি কি কোনো সামাজিক সহায়তা (নগদ বা দ্রব্য) পেয়েছেন?",
                ),
            ),
            END,
            _group("sdg4", CONSENTED),
            Q(
                "select_one education",
                "q_education",
                T(
                    "What is the highest level of school you completed?",
                    "Trình độ học vấn cao nhất anh/chị đã hoàn thành là gì?",
                    "Ni kiwango gani cha juu cha elimu ulichomaliza?",
                    "আপনি সর্বোচ্চ কোন স্তরের পড়াশোনা শেষ করেছেন?",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_training_12m",
                T(
                    "In the last 12 months, did you take part in any education or training?",
                    "Trong 12 tháng qua, anh/chị có tham gia khóa học hoặc đào tạo nào không?",
                    "Katika miezi 12 iliyopita, ulishiriki katika elimu au mafunzo yoyote?",
                    "গত ১২ মাসে আপনি কি কোনো শিক্ষা বা প্রশিক্ষণে অংশ নিয়েছেন?",
                ),
            ),
            END,
            _group("sdg8", CONSENTED),
            Q(
                "select_one work_status",
                "q_work_status",
                T(
                    "What best describes what you mainly do now?",
                    "Hiện nay anh/chị chủ yếu làm gì?",
                    "Ni kipi kinaelezea vyema unachofanya sasa?",
                    "আপনি এখন প্রধানত কী করেন?",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_training_4w",
                T(
                    "In the last 4 weeks, were you in any education or training?",
                    "Trong 4 tuần qua, anh/chị có đi học hoặc tham gia đào tạo không?",
                    "Katika wiki 4 zilizopita, ulikuwa katika elimu au mafunzo?",
                    "গত ৪ সপ্তাহে আপনি কি কোনো শিক্ষা বা প্রশিক্ষণে ছিলেন?",
                ),
                relevant="${q_work_status} != 'student'",
            ),
            Q(
                "select_one yes_no",
                "q_social_insurance",
                T(
                    "Does your work give you social insurance?",
                    "Công việc của anh/chị có đóng bảo hiểm xã hội không?",
                    "Je, kazi yako inakupa bima ya kijamii?",
                    "আপনার কাজ কি আপনাকে সামাজিক বিমা দেয়?",
                ),
                relevant="selected(${q_work_status}, 'employed') or selected(${q_work_status}, 'self_employed')",
            ),
            END,
            _group("sdg5", CONSENTED),
            Q(
                "select_one yes_no",
                "q_ever_partnered",
                T(
                    "Have you ever been married or lived with a partner?",
                    "Chị đã từng kết hôn hoặc sống chung với bạn đời chưa?",
                    "Je, umewahi kuolewa au kuishi na mwenzi?",
                    "আপনি কি কখনো বিবাহিত ছিলেন বা সঙ্গীর সাথে থেকেছেন?",
                ),
                relevant="${sex} = '" + "{female}" + "'",
            ),
            Q(
                "select_one yes_no",
                "q_violence_12m",
                T(
                    "In the last 12 months, has a husband or partner hit, hurt or forced you to have sex? (asked in private)",
                    "Trong 12 tháng qua, chồng hoặc bạn đời có đánh, làm tổn thương hoặc ép chị quan hệ tình dục không? (hỏi riêng)",
                    "Katika miezi 12 iliyopita, je, mume au mwenzi amekupiga, kukuumiza au kukulazimisha kufanya ngono? (kwa faragha)",
                    "গত ১২ মাসে স্বামী বা সঙ্গী কি আপনাকে মেরেছে, আঘাত করেছে বা জোর করে যৌন সম্পর্ক করেছে? (একান্তে জিজ্ঞাসা)",
                ),
                relevant="${q_ever_partnered} = 'yes'",
            ),
            Q(
                "select_one yes_no",
                "q_community_voice",
                T(
                    "In the last 12 months, did you speak at a community or commune meeting?",
                    "Trong 12 tháng qua, anh/chị có phát biểu trong cuộc họp cộng đồng hoặc họp xã không?",
                    "Katika miezi 12 iliyopita, ulizungumza katika mkutano wa jamii?",
                    "গত ১২ মাসে আপনি কি কোনো সামাজিক বা ইউনিয়ন সভায় কথা বলেছেন?",
                ),
            ),
            END,
            _group("sdg13", CONSENTED),
            Q(
                "select_one yes_no",
                "q_climate_heard",
                T(
                    "Have you heard about climate change and what it means for your area?",
                    "Anh/chị đã nghe về biến đổi khí hậu và tác động của nó đến địa phương chưa?",
                    "Je, umesikia kuhusu mabadiliko ya tabianchi na maana yake kwa eneo lako?",
                    "আপনি কি জলবায়ু পরিবর্তন এবং আপনার এলাকায় এর প্রভাব সম্পর্কে শুনেছেন?",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_disaster_affected",
                T(
                    "In the last 12 months, was your household affected by a flood, storm, drought or landslide?",
                    "Trong 12 tháng qua, hộ gia đình anh/chị có bị ảnh hưởng bởi lũ lụt, bão, hạn hán hoặc sạt lở đất không?",
                    "Katika miezi 12 iliyopita, kaya yako iliathiriwa na mafuriko, dhoruba, ukame au maporomoko?",
                    "গত ১২ মাসে আপনার খানা কি বন্যা, ঝড়, খরা বা ভূমিধসে ক্ষতিগ্রস্ত হয়েছে?",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_disaster_warning",
                T(
                    "Did you receive a warning in time before it happened?",
                    "Anh/chị có nhận được cảnh báo kịp thời trước khi thiên tai xảy ra không?",
                    "Ulipata tahadhari kwa wakati kabla ya tukio?",
                    "ঘটনার আগে কি আপনি সময়মতো সতর্কবার্তা পেয়েছিলেন?",
                ),
                relevant="${q_disaster_affected} = 'yes'",
            ),
            END,
            _group("sdg16", CONSENTED),
            Q(
                "select_one safe4",
                "q_safe_walking",
                T(
                    "How safe do you feel walking alone around the area where you live after dark?",
                    "Anh/chị cảm thấy an toàn như thế nào khi đi bộ một mình quanh khu vực mình sống sau khi trời tối?",
                    "Unajisikia salama kiasi gani ukitembea peke yako katika eneo unaloishi baada ya giza?",
                    "অন্ধকার হওয়ার পর নিজের এলাকায় একা হাঁটতে আপনি কতটা নিরাপদ বোধ করেন?",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_violence_any_12m",
                T(
                    "In the last 12 months, were you physically attacked, threatened or sexually assaulted?",
                    "Trong 12 tháng qua, anh/chị có bị tấn công thân thể, đe dọa hoặc xâm hại tình dục không?",
                    "Katika miezi 12 iliyopita, ulishambuliwa, kutishiwa au kudhulumiwa kingono?",
                    "গত ১২ মাসে আপনি কি শারীরিক আক্রমণ, হুমকি বা যৌন নির্যাতনের শিকার হয়েছেন?",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_violence_reported",
                T(
                    "Did you report it to the police or another competent authority?",
                    "Anh/chị có trình báo với công an hoặc cơ quan có thẩm quyền không?",
                    "Uliripoti kwa polisi au mamlaka nyingine husika?",
                    "আপনি কি পুলিশ বা অন্য কোনো কর্তৃপক্ষকে জানিয়েছেন?",
                ),
                relevant="${q_violence_any_12m} = 'yes'",
            ),
            Q(
                "select_one yes_no",
                "q_service_used",
                T(
                    "In the last 12 months, did you use a public service (health station, school, commune office)?",
                    "Trong 12 tháng qua, anh/chị có sử dụng dịch vụ công nào (trạm y tế, trường học, UBND xã) không?",
                    "Katika miezi 12 iliyopita, ulitumia huduma ya umma (zahanati, shule, ofisi ya kata)?",
                    "গত ১২ মাসে আপনি কি কোনো সরকারি সেবা (স্বাস্থ্যকেন্দ্র, বিদ্যালয়, ইউনিয়ন পরিষদ) ব্যবহার করেছেন?",
                ),
            ),
            Q(
                "select_one satisfaction5",
                "q_service_satisfied",
                T(
                    "How satisfied were you with the last public service you used?",
                    "Anh/chị hài lòng thế nào với dịch vụ công gần nhất đã sử dụng?",
                    "Uliridhika kiasi gani na huduma ya umma uliyotumia mara ya mwisho?",
                    "সর্বশেষ যে সরকারি সেবা নিয়েছেন তাতে আপনি কতটা সন্তুষ্ট?",
                ),
                relevant="${q_service_used} = 'yes'",
            ),
            Q(
                "select_one agree4",
                "q_decision_inclusive",
                T(
                    "People like me have a say in what the local authorities do.",
                    "Những người như tôi có tiếng nói trong những việc chính quyền địa phương làm.",
                    "Watu kama mimi wana sauti katika kile serikali ya mtaa inachofanya.",
                    "আমার মতো মানুষের স্থানীয় কর্তৃপক্ষের কাজে মতামত দেওয়ার সুযোগ আছে।",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_discriminated",
                T(
                    "In the last 12 months, have you personally felt discriminated against or harassed?",
                    "Trong 12 tháng qua, anh/chị có cảm thấy bị phân biệt đối xử hoặc quấy rối không?",
                    "Katika miezi 12 iliyopita, umehisi kubaguliwa au kunyanyaswa?",
                    "গত ১২ মাসে আপনি কি ব্যক্তিগতভাবে বৈষম্য বা হয়রানির শিকার বোধ করেছেন?",
                ),
            ),
            Q(
                "select_multiple grounds",
                "q_discrim_grounds",
                T(
                    "On which grounds? (select all that apply)",
                    "Vì lý do nào? (chọn tất cả các ý phù hợp)",
                    "Kwa misingi gani? (chagua yote yanayohusika)",
                    "কোন কারণে? (প্রযোজ্য সবগুলো বাছুন)",
                ),
                relevant="${q_discriminated} = 'yes'",
            ),
            END,
        ]
        + _contact(
            T(
                "Your name (only if you agree to be contacted)",
                "Tên của anh/chị (chỉ khi đồng ý được liên hệ)",
                "Jina lako (ikiwa tu unakubali kuwasiliana)",
                "আপনার নাম (শুধু যোগাযোগে সম্মত হলে)",
            )
        )
        + _design("commune_id")
        + _closing()
    )


def children_form() -> list[Q]:
    """Children aged 11-15: the UNICEF/WG Child Functioning Module plus school, safety and voice."""
    return (
        _meta()
        + _intro(children=True)
        + _location(gps=True)
        + [
            _group("demographics", CONSENTED),
            Q(
                "select_one sex",
                "sex",
                T("Sex of the child", "Giới tính của cháu", bn="শিশুর লিঙ্গ"),
                required=True,
            ),
            Q(
                "integer",
                "age",
                T("How old are you?", "Cháu bao nhiêu tuổi?", bn="তোমার বয়স কত?"),
                required=True,
                constraint=". >= 11 and . <= 15",
            ),
            Q(
                "select_one ethnicity",
                "ethnicity",
                T(
                    "Which group does the child belong to?",
                    "Cháu thuộc nhóm dân tộc nào?",
                    bn="শিশুটি কোন জনগোষ্ঠীর?",
                ),
            ),
            Q(
                "text",
                "ethnic_group",
                T("Name of the ethnic group", "Tên dân tộc", bn="নৃগোষ্ঠীর নাম"),
            ),
            END,
            _group("cfm", CONSENTED),
            *[Q("select_one " + lst, n, lab, required=True) for n, lst, lab in CF_QUESTIONS],
            END,
            _group("school", CONSENTED),
            Q(
                "select_one yes_no",
                "q_in_school",
                T(
                    "Do you go to school this school year?",
                    "Năm học này cháu có đi học không?",
                    bn="এই শিক্ষাবর্ষে তুমি কি বিদ্যালয়ে যাও?",
                ),
            ),
            Q(
                "select_one read3",
                "q_read_story",
                T(
                    "Can you read this short story aloud? (show the card)",
                    "Cháu có đọc to được câu chuyện ngắn này không? (đưa thẻ)",
                    bn="তুমি কি এই ছোট গল্পটি জোরে পড়তে পারো? (কার্ড দেখান)",
                ),
            ),
            Q(
                "select_one safe_school",
                "q_safe_school",
                T(
                    "Do you feel safe at school and on the way to school?",
                    "Cháu có cảm thấy an toàn ở trường và trên đường đến trường không?",
                    bn="বিদ্যালয়ে এবং বিদ্যালয়ে যাওয়ার পথে কি তুমি নিরাপদ বোধ করো?",
                ),
                relevant="${q_in_school} = 'yes'",
            ),
            Q(
                "select_one yes_no",
                "q_bullied_month",
                T(
                    "In the last month, were you bullied by other children?",
                    "Trong tháng qua, cháu có bị các bạn khác bắt nạt không?",
                    bn="গত মাসে কি অন্য শিশুরা তোমাকে উৎপীড়ন করেছে?",
                ),
            ),
            END,
            _group("sdg13", CONSENTED),
            Q(
                "select_one yes_no",
                "q_climate_heard",
                T(
                    "Have you learnt about climate change and how to stay safe in floods or storms?",
                    "Cháu đã được học về biến đổi khí hậu và cách giữ an toàn khi có lũ, bão chưa?",
                    bn="তুমি কি জলবায়ু পরিবর্তন এবং বন্যা বা ঝড়ে কীভাবে নিরাপদ থাকতে হয় তা শিখেছ?",
                ),
            ),
            END,
            _group("voice", CONSENTED),
            Q(
                "select_one agree4",
                "q_adults_listen",
                T(
                    "Adults in my community listen to what children say.",
                    "Người lớn ở nơi cháu sống lắng nghe ý kiến của trẻ em.",
                    bn="আমার এলাকার বড়রা শিশুদের কথা শোনে।",
                ),
            ),
            END,
        ]
        + _contact(
            T(
                "Name of parent or guardian (only if they agree to be contacted)",
                "Tên cha mẹ hoặc người giám hộ (chỉ khi đồng ý được liên hệ)",
                bn="পিতামাতা বা অভিভাবকের নাম (শুধু যোগাযোগে সম্মত হলে)",
            )
        )
        + _design("commune_id")
        + _closing()
    )


def cso_form() -> list[Q]:
    """Civil society organisations: civic space, consultation and use of their data."""
    return (
        _meta()
        + _intro()
        + [
            _group("org", CONSENTED),
            Q("text", "org_name", T("Name of the organisation", "Tên tổ chức", "Jina la shirika")),
            Q(
                "select_one organisation_type",
                "organisation_type",
                T("Type of organisation", "Loại hình tổ chức", "Aina ya shirika"),
                required=True,
            ),
            Q(
                "date",
                "founded",
                T(
                    "When was the organisation founded?",
                    "Tổ chức được thành lập khi nào?",
                    "Shirika lilianzishwa lini?",
                ),
            ),
            Q(
                "integer",
                "q_cso_members",
                T(
                    "How many members or volunteers does it have?",
                    "Tổ chức có bao nhiêu thành viên hoặc tình nguyện viên?",
                    "Lina wanachama au wajitolea wangapi?",
                ),
                constraint=". >= 0",
            ),
            Q(
                "select_multiple cso_areas",
                "q_cso_areas",
                T(
                    "Which areas does it work on? (select all that apply)",
                    "Tổ chức hoạt động trong những lĩnh vực nào? (chọn tất cả các ý phù hợp)",
                    "Linafanya kazi katika maeneo gani? (chagua yote yanayohusika)",
                ),
            ),
            END,
        ]
        + [q for q in _location(gps=False) if q.name != "urban_rural"]
        + [
            _group("cso", CONSENTED),
            Q(
                "select_one yes_no",
                "q_cso_consulted",
                T(
                    "In the last 12 months, did the authorities consult your organisation on SDG plans or laws?",
                    "Trong 12 tháng qua, chính quyền có tham vấn tổ chức của anh/chị về kế hoạch hoặc luật liên quan đến SDG không?",
                    "Katika miezi 12 iliyopita, mamlaka zilishauriana na shirika lako kuhusu mipango au sheria za SDG?",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_cso_data_used",
                T(
                    "Have the authorities used data or evidence your organisation collected?",
                    "Chính quyền có sử dụng dữ liệu hoặc bằng chứng do tổ chức của anh/chị thu thập không?",
                    "Je, mamlaka zimetumia data au ushahidi uliokusanywa na shirika lako?",
                ),
            ),
            Q(
                "select_one space5",
                "q_cso_space",
                T(
                    "How would you rate the space for civil society to act freely? (1 closed - 5 open)",
                    "Anh/chị đánh giá thế nào về không gian hoạt động của xã hội dân sự? (1 rất hạn chế – 5 cởi mở)",
                    "Unakadiriaje nafasi ya mashirika ya kiraia kufanya kazi kwa uhuru? (1 imefungwa – 5 iko wazi)",
                ),
            ),
            Q(
                "select_one yes_no",
                "q_cso_climate",
                T(
                    "Does your organisation work on climate adaptation or disaster preparedness?",
                    "Tổ chức của anh/chị có hoạt động về thích ứng biến đổi khí hậu hoặc phòng chống thiên tai không?",
                    "Je, shirika lako linafanya kazi ya kukabiliana na tabianchi au kujiandaa kwa majanga?",
                ),
            ),
            END,
        ]
        + _contact(
            T("Name of the contact person", "Tên người liên hệ", "Jina la mtu wa kuwasiliana")
        )
        + _design("commune_id", by_region=True)
        + _closing()
    )


# --------------------------------------------------------------------------- countries


@dataclass(frozen=True)
class RegionSpec:
    """A region's synthetic frame: adult population (millions), urban share, minority shares."""

    code: str
    adults_m: float
    children_m: float
    urban: float
    minority_rural: float
    minority_urban: float
    communes: int
    provinces: tuple[str, ...]
    lat: tuple[float, float]
    lon: tuple[float, float]
    minority_groups: tuple[str, ...]
    disaster: float = 0.0


@dataclass(frozen=True)
class CountrySpec:
    iso: str
    languages: tuple[str, ...]
    age_min: int
    youth_max: int
    regions: tuple[RegionSpec, ...]
    majority_group: str
    utc_offset: int
    family: tuple[str, ...]
    given: tuple[str, ...]
    phone: str  # format with {a} {b}

    def region(self, code: str) -> RegionSpec:
        return next(r for r in self.regions if r.code == code)


VN = CountrySpec(
    iso="VN",
    languages=("en", "vi"),
    age_min=16,
    youth_max=30,
    regions=(
        RegionSpec(
            "north",
            26.4,
            3.0,
            0.35,
            0.34,
            0.06,
            4100,
            ("Hà Nội", "Hải Phòng", "Lào Cai", "Hà Giang", "Điện Biên", "Thái Nguyên", "Nam Định"),
            (20.3, 22.8),
            (103.2, 106.6),
            ("Tày", "Thái", "Mường", "H'Mông", "Nùng", "Dao"),
            0.10,
        ),
        RegionSpec(
            "central",
            19.8,
            2.3,
            0.30,
            0.30,
            0.05,
            3300,
            ("Thanh Hóa", "Nghệ An", "Quảng Nam", "Đà Nẵng", "Gia Lai", "Đắk Lắk", "Kon Tum"),
            (12.0, 19.8),
            (105.5, 109.2),
            ("Gia Rai", "Ê Đê", "Ba Na", "Chăm", "Mường", "Thái"),
            0.45,
        ),
        RegionSpec(
            "south",
            27.1,
            2.9,
            0.45,
            0.14,
            0.05,
            3200,
            (
                "TP. Hồ Chí Minh",
                "Cần Thơ",
                "An Giang",
                "Sóc Trăng",
                "Bình Dương",
                "Đồng Tháp",
                "Trà Vinh",
            ),
            (8.8, 11.6),
            (104.8, 107.2),
            ("Khmer", "Hoa", "Chăm"),
            0.25,
        ),
    ),
    majority_group="Kinh",
    utc_offset=7,
    family=(
        "Nguyễn",
        "Trần",
        "Lê",
        "Phạm",
        "Hoàng",
        "Huỳnh",
        "Phan",
        "Vũ",
        "Võ",
        "Đặng",
        "Bùi",
        "Đỗ",
    ),
    given=(
        "Văn An",
        "Thị Bình",
        "Minh Chi",
        "Đức Dũng",
        "Thu Hà",
        "Văn Hải",
        "Thị Hạnh",
        "Thị Hoa",
        "Quốc Hùng",
        "Thị Lan",
        "Ngọc Linh",
        "Văn Long",
        "Thị Mai",
        "Hoài Nam",
        "Thu Phương",
        "Văn Quang",
        "Thị Thảo",
        "Thu Trang",
        "Anh Tuấn",
    ),
    phone="+84 9{a:02d} {b:03d} {c:03d}",
)

KE = CountrySpec(
    iso="KE",
    languages=("en", "sw"),
    age_min=18,
    youth_max=35,
    regions=(
        RegionSpec(
            "nairobi",
            3.0,
            0.45,
            1.00,
            0.02,
            0.02,
            85,
            ("Nairobi",),
            (-1.40, -1.16),
            (36.65, 37.05),
            ("Nubi", "Ogiek"),
            0.10,
        ),
        RegionSpec(
            "coast",
            2.5,
            0.50,
            0.40,
            0.20,
            0.06,
            120,
            ("Mombasa", "Kilifi", "Kwale", "Lamu", "Tana River"),
            (-4.6, -1.7),
            (39.2, 41.5),
            ("Orma", "Aweer", "Watha", "Bajuni"),
            0.40,
        ),
        RegionSpec(
            "rift_valley",
            7.0,
            1.40,
            0.25,
            0.22,
            0.05,
            300,
            ("Nakuru", "Turkana", "Kajiado", "Baringo", "Uasin Gishu", "Samburu"),
            (-2.8, 4.6),
            (34.9, 37.6),
            ("Endorois", "Sengwer", "Ogiek", "Il Chamus", "El Molo"),
            0.35,
        ),
        RegionSpec(
            "western",
            2.3,
            0.55,
            0.15,
            0.08,
            0.03,
            90,
            ("Kakamega", "Bungoma", "Busia", "Vihiga"),
            (-0.2, 1.2),
            (34.0, 35.1),
            ("Sabaot", "Batwa"),
            0.30,
        ),
    ),
    majority_group="Luhya",
    utc_offset=3,
    family=(
        "Wanjiru",
        "Otieno",
        "Achieng",
        "Kamau",
        "Mwangi",
        "Njeri",
        "Wafula",
        "Chebet",
        "Kiprop",
        "Akinyi",
        "Barasa",
        "Mutua",
    ),
    given=(
        "Grace",
        "Peter",
        "Mercy",
        "John",
        "Faith",
        "Brian",
        "Esther",
        "Kevin",
        "Joy",
        "Dennis",
        "Ann",
        "Samuel",
    ),
    phone="+254 7{a:02d} {b:03d} {c:03d}",
)

BD = CountrySpec(
    iso="BD",
    languages=("en", "bn"),
    age_min=18,
    youth_max=35,
    regions=(
        RegionSpec(
            "dhaka",
            27.5,
            4.4,
            0.50,
            0.03,
            0.01,
            1250,
            ("Dhaka", "Gazipur", "Narayanganj", "Tangail", "Faridpur"),
            (23.2, 24.6),
            (89.6, 90.9),
            ("Garo", "Hajong", "Koch"),
            0.20,
        ),
        RegionSpec(
            "chattogram",
            20.5,
            3.6,
            0.35,
            0.10,
            0.02,
            950,
            ("Chattogram", "Cox's Bazar", "Rangamati", "Bandarban", "Cumilla", "Noakhali"),
            (21.5, 23.7),
            (90.6, 92.6),
            ("Chakma", "Marma", "Tripura", "Mro"),
            0.45,
        ),
        RegionSpec(
            "rajshahi",
            13.2,
            2.1,
            0.25,
            0.05,
            0.01,
            560,
            ("Rajshahi", "Bogura", "Naogaon", "Chapainawabganj", "Pabna"),
            (24.0, 25.3),
            (88.0, 89.7),
            ("Santal", "Oraon", "Munda"),
            0.15,
        ),
        RegionSpec(
            "khulna",
            11.4,
            1.8,
            0.25,
            0.02,
            0.01,
            570,
            ("Khulna", "Satkhira", "Bagerhat", "Jashore", "Kushtia"),
            (21.6, 24.1),
            (88.6, 89.9),
            ("Munda", "Bagdi"),
            0.50,
        ),
    ),
    majority_group="Bengali",
    utc_offset=6,
    family=(
        "Rahman",
        "Akter",
        "Hossain",
        "Begum",
        "Islam",
        "Khatun",
        "Das",
        "Ahmed",
        "Sarkar",
        "Chakma",
    ),
    given=(
        "Ayesha",
        "Rahim",
        "Fatema",
        "Karim",
        "Nasrin",
        "Sumon",
        "Mitu",
        "Rina",
        "Jamal",
        "Shirin",
        "Tanvir",
        "Rupa",
    ),
    phone="+880 1{a:02d}{b:03d} {c:03d}{a:01d}",
)

COUNTRIES = {"VN": VN, "KE": KE, "BD": BD}


@dataclass(frozen=True)
class Plan:
    """How one instrument of one cycle is collected and exported (its 'shape')."""

    name: str
    population: str  # adults | cso | children
    n: int
    fmt: str  # kobo-xlsx | kobo-csv | odk-csv | spss | stata
    headers: str = "path"  # path (group/name) | flat (name) | odk (group-name)
    sep: str = ","
    bom: bool = False
    numeric_lists: tuple[str, ...] = ()  # choice lists whose names are 1..k in this form
    label: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CycleSpec:
    iso: str
    cycle: int
    step: int  # 0, 1, 2: cycles since the first (improvement over time)
    start: date
    end: date
    plans: tuple[Plan, ...]
    canary: bool = False
    side_files: bool = False
    title: dict = field(default_factory=dict)


ADULTS_LABEL = T(
    "Youth, women and people with disabilities",
    "Thanh niên, phụ nữ và người khuyết tật",
    "Vijana, wanawake na watu wenye ulemavu",
    "যুব, নারী ও প্রতিবন্ধী ব্যক্তি",
)
CSO_LABEL = T(
    "Civil society organisations", "Tổ chức xã hội", "Mashirika ya kiraia", "সুশীল সমাজ সংগঠন"
)
CHILDREN_LABEL = T(
    "Children aged 11-15",
    "Trẻ em từ 11 đến 15 tuổi",
    "Watoto wenye umri wa miaka 11-15",
    "১১-১৫ বছর বয়সী শিশু",
)


def cycle_specs() -> list[CycleSpec]:
    """Every example cycle, with deliberately different export shapes so intake is exercised."""
    vn_title = lambda y: T(  # noqa: E731
        f"Leave No One Behind: citizen-generated data survey {y} (synthetic example)",
        f"Không để ai bị bỏ lại phía sau: khảo sát dữ liệu do người dân tạo ra {y} (dữ liệu ví dụ tổng hợp)",
    )
    return [
        CycleSpec(
            "VN",
            2020,
            0,
            date(2020, 7, 6),
            date(2020, 9, 18),
            (
                Plan(
                    "adults",
                    "adults",
                    2250,
                    "kobo-xlsx",
                    numeric_lists=("sex", "region"),
                    label=ADULTS_LABEL,
                ),
                Plan("cso", "cso", 160, "kobo-xlsx", headers="flat", label=CSO_LABEL),
                Plan("children", "children", 480, "kobo-csv", sep=";", label=CHILDREN_LABEL),
            ),
            side_files=True,
            title=vn_title(2020),
        ),
        CycleSpec(
            "VN",
            2022,
            1,
            date(2022, 6, 13),
            date(2022, 8, 26),
            (
                Plan("adults", "adults", 2300, "kobo-xlsx", label=ADULTS_LABEL),
                Plan("cso", "cso", 190, "spss", headers="flat", label=CSO_LABEL),
                Plan("children", "children", 500, "kobo-csv", sep=";", label=CHILDREN_LABEL),
            ),
            canary=True,
            side_files=True,
            title=vn_title(2022),
        ),
        CycleSpec(
            "VN",
            2024,
            2,
            date(2024, 6, 3),
            date(2024, 8, 16),
            (
                Plan("adults", "adults", 2350, "kobo-xlsx", label=ADULTS_LABEL),
                Plan("cso", "cso", 230, "kobo-xlsx", label=CSO_LABEL),
                Plan(
                    "children", "children", 520, "kobo-csv", sep=";", bom=True, label=CHILDREN_LABEL
                ),
            ),
            side_files=True,
            title=vn_title(2024),
        ),
        CycleSpec(
            "KE",
            2023,
            0,
            date(2023, 3, 6),
            date(2023, 5, 12),
            (
                Plan("adults", "adults", 1050, "odk-csv", headers="odk", label=ADULTS_LABEL),
                Plan("cso", "cso", 150, "odk-csv", headers="odk", label=CSO_LABEL),
            ),
            title=T(
                "Leave No One Behind: citizen-generated data survey 2023 (synthetic example)",
                sw="Bila Kumwacha Mtu Nyuma: utafiti wa data za wananchi 2023 (data ya mfano iliyotengenezwa)",
            ),
        ),
        CycleSpec(
            "BD",
            2023,
            0,
            date(2023, 10, 2),
            date(2023, 12, 8),
            (
                Plan("adults", "adults", 1000, "kobo-csv", label=ADULTS_LABEL),
                Plan("children", "children", 200, "stata", headers="flat", label=CHILDREN_LABEL),
            ),
            title=T(
                "Leave No One Behind: citizen-generated data survey 2023 (synthetic example)",
                bn="কাউকে পেছনে ফেলে নয়: নাগরিক-সৃষ্ট তথ্য জরিপ ২০২৩ (কৃত্রিম উদাহরণ তথ্য)",
            ),
        ),
    ]


def _scaled(n: int, scale: float) -> int:
    return max(24, int(round(n * scale)))


# --------------------------------------------------------------------------- sample design


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def sample_design(rng: np.random.Generator, cs: CountrySpec, plan: Plan, n: int) -> pd.DataFrame:
    """Stratified two-stage cluster sample; weight = 1 / (P(PSU) * P(unit | PSU)).

    Adults and children: strata region x urban/rural, communes drawn by simple random
    sampling within a stratum, a fixed take of about 20 in each; commune sizes vary, so the
    weights vary. CSOs: strata = regions, provinces as PSUs, CSOs drawn from a provincial list.
    """
    rows = []
    if plan.population == "cso":
        strata = [(r, None, r.adults_m) for r in cs.regions]
    else:
        strata = []
        for r in cs.regions:
            size = r.adults_m if plan.population == "adults" else r.children_m
            for ur, share in (("urban", r.urban), ("rural", 1 - r.urban)):
                if share > 0.001:
                    strata.append((r, ur, size * share))
    # Compromise allocation (square root of size) oversamples the small strata.
    alloc = np.sqrt([s for *_, s in strata])
    alloc = alloc / alloc.sum()
    sizes = np.maximum(np.round(alloc * n).astype(int), 8)
    take = 8 if plan.population == "cso" else 20
    for (reg, ur, size), n_h in zip(strata, sizes, strict=True):
        m_h = max(2, int(round(n_h / take)))
        if plan.population == "cso":
            frame = len(reg.provinces) * 3  # districts counted as provincial CSO lists
            m_h = min(m_h, frame)
            units_total = 40.0 * frame
        else:
            frame = max(
                m_h * 2, int(reg.communes * (reg.urban if ur == "urban" else 1 - reg.urban))
            )
            units_total = size * 1e6
        counts = np.full(m_h, n_h // m_h)
        counts[: n_h % m_h] += 1
        psu_ids = np.sort(rng.choice(frame, size=m_h, replace=False))
        mean_size = units_total / frame
        for k, (pid, n_c) in enumerate(zip(psu_ids, counts, strict=True)):
            big_n = max(float(n_c) * 1.5, mean_size * rng.lognormal(0.0, 0.45))
            weight = (frame / m_h) * (big_n / n_c)
            province = reg.provinces[(pid + k) % len(reg.provinces)]
            if plan.population == "cso":
                stratum, psu = reg.code, f"{cs.iso}-{reg.code[:3].upper()}-D{pid:03d}"
            else:
                stratum = f"{reg.code}_{ur}"
                psu = f"{cs.iso}-{reg.code[:3].upper()}-{ur[0].upper()}{pid:04d}"
            for _ in range(int(n_c)):
                rows.append((reg.code, ur, stratum, psu, province, weight))
    df = pd.DataFrame(
        rows, columns=["region", "urban_rural", "stratum", "psu", "province", "weight"]
    )
    return df


# --------------------------------------------------------------------------- respondents

COMMENTS = (
    "The commune health station is far from my village.",
    "Trạm y tế xã ở xa thôn tôi quá.",
    "We need sign language at the commune office.",
    "Cần có phiên dịch ngôn ngữ ký hiệu ở UBND xã.",
    "Thank you for listening to us.",
    "Young people have no say in village meetings.",
)


def _cat(rng, n, codes, p):
    return rng.choice(np.array(codes, dtype=object), size=n, p=np.asarray(p) / np.sum(p))


def _ordinal(latent, cuts, codes):
    """Cut a latent score into ordered codes (cuts ascending; codes from lowest to highest)."""
    idx = np.searchsorted(np.asarray(cuts), latent)
    return np.array(codes, dtype=object)[idx]


def _yes(rng, p):
    return np.where(rng.random(len(p)) < p, "yes", "no").astype(object)


def _latent(rng, d: pd.DataFrame, step: int) -> np.ndarray:
    """Disadvantage score: who is left behind. Planted gaps, documented in data/<ISO>/README.md."""
    psu_eff = {p: rng.normal(0, 0.3) for p in sorted(d["psu"].unique())}
    fem = (d["sex"] == "female").to_numpy()
    dis = d["_dis"].to_numpy()
    rural = (d["urban_rural"] == "rural").to_numpy()
    mino = (d["ethnicity"] == "minority").to_numpy()
    z = (
        0.35 * fem
        + 0.85 * dis
        + 0.45 * rural
        + 0.65 * mino
        + 0.6 * (fem & dis & rural)
        + d["psu"].map(psu_eff).to_numpy()
        - 0.22 * step
        + rng.normal(0, 0.5, len(d))
    )
    return z


def _people(rng, cs: CountrySpec, d: pd.DataFrame, population: str) -> pd.DataFrame:
    n = len(d)
    if population == "children":
        d["sex"] = _cat(rng, n, ["female", "male"], [0.5, 0.5])
        d["age"] = rng.integers(11, 16, n)
    else:
        d["sex"] = _cat(rng, n, ["female", "male", "intersex"], [0.58, 0.418, 0.002])
        young = rng.random(n) < 0.5
        old = cs.youth_max + 1 + np.minimum(rng.gamma(2.0, 9.0, n), 75 - cs.youth_max).astype(int)
        d["age"] = np.where(young, rng.integers(cs.age_min, cs.youth_max + 1, n), old)
    regs = d["region"].map(lambda c: cs.region(c))
    p_min = np.where(
        d["urban_rural"] == "rural",
        regs.map(lambda r: r.minority_rural),
        regs.map(lambda r: r.minority_urban),
    )
    if population == "adults":
        p_min = np.minimum(p_min * 1.3, 0.6)  # minorities oversampled by the partners' outreach
    u = rng.random(n)
    d["ethnicity"] = np.where(
        u < p_min, "minority", np.where(u > 0.995, "prefer_not_to_say", "majority")
    ).astype(object)
    d["ethnic_group"] = [
        (
            r.minority_groups[int(rng.integers(len(r.minority_groups)))]
            if e == "minority"
            else (cs.majority_group if e == "majority" else "")
        )
        for r, e in zip(regs, d["ethnicity"], strict=True)
    ]
    age = d["age"].to_numpy()
    if population == "children":
        d["_dis"] = rng.random(n) < 0.11
    else:
        d["_dis"] = rng.random(n) < np.clip(0.14 + 0.006 * np.maximum(age - 40, 0), 0, 0.6)
    return d


def _functioning(
    rng, d: pd.DataFrame, cols: list[str], weights: list[float], freq: list[str] = ()
) -> None:
    """WG-SS / CFM answers consistent with the planted disability status."""
    n = len(d)
    dis = d["_dis"].to_numpy()
    old = (d["age"].to_numpy() > 60) if "age" in d else np.zeros(n, bool)
    for c in cols:
        some = rng.random(n) < np.where(old, 0.22, 0.09)
        d[c] = np.where(some, 2, 1)
    w = np.asarray(weights) / np.sum(weights)
    for i in np.flatnonzero(dis):
        k = 1 + int(rng.random() < 0.35)
        for c in rng.choice(cols, size=k, replace=False, p=w):
            d.loc[d.index[i], c] = 3 if rng.random() < 0.8 else 4
    for c in freq:
        base = _cat(rng, n, [2, 3, 4, 5], [0.08, 0.17, 0.35, 0.40])
        d[c] = np.where(dis & (rng.random(n) < 0.3), 1, base)


def simulate(
    rng: np.random.Generator, cs: CountrySpec, spec: CycleSpec, plan: Plan, n: int
) -> pd.DataFrame:
    """One instrument's respondents in contract codes (before export encoding and dirt)."""
    d = sample_design(rng, cs, plan, n)
    n = len(d)
    step = spec.step
    if plan.population == "cso":
        d["organisation_type"] = _cat(
            rng, n, [c for c, _ in ORG_TYPE], [0.3, 0.22, 0.12, 0.12, 0.12, 0.05, 0.07]
        )
        d["org_name"] = [f"{cs.iso} Synthetic Association {i + 1:03d}" for i in range(n)]
        d["founded"] = [
            date(int(y), int(m), 1)
            for y, m in zip(rng.integers(1990, spec.cycle, n), rng.integers(1, 13, n), strict=True)
        ]
        d["q_cso_members"] = np.round(rng.lognormal(3.2, 0.9, n)).astype(int)
        areas = []
        for t in d["organisation_type"]:
            pick = [
                a
                for a, p in (
                    ("sdg1", 0.45),
                    ("sdg4", 0.35),
                    ("sdg5", 0.6 if t == "women_union" else 0.3),
                    ("sdg8", 0.3),
                    ("sdg13", 0.25),
                    ("sdg16", 0.5 if t in ("dpo", "lgbt_group") else 0.3),
                )
                if rng.random() < p
            ]
            areas.append(" ".join(pick) if pick else "other")
        d["q_cso_areas"] = areas
        formal = d["organisation_type"].isin(["women_union", "youth_union"]).to_numpy()
        d["q_cso_consulted"] = _yes(rng, _expit(-0.7 + 0.3 * step + 1.1 * formal))
        d["q_cso_data_used"] = _yes(rng, _expit(-1.1 + 0.35 * step + 0.5 * formal))
        d["q_cso_space"] = _ordinal(
            rng.normal(0.1 * step, 1, n), [-1.6, -0.7, 0.3, 1.3], ["1", "2", "3", "4", "5"]
        )
        d["q_cso_climate"] = _yes(rng, _expit(np.full(n, -0.9 + 0.25 * step)))
        d["urban_rural"] = None
        return d
    d = _people(rng, cs, d, plan.population)
    z = _latent(rng, d, step)
    fem = (d["sex"] == "female").to_numpy()
    dis = d["_dis"].to_numpy()
    rural = (d["urban_rural"] == "rural").to_numpy()
    age = d["age"].to_numpy()
    youth = (age >= cs.age_min) & (age <= cs.youth_max)
    disaster = d["region"].map(lambda c: cs.region(c).disaster).to_numpy()
    if plan.population == "children":
        _functioning(
            rng,
            d,
            [c for c, k, _ in CF_QUESTIONS if k == "difficulty"],
            [3, 2, 3, 1, 1, 3, 2, 2, 1, 1, 1],
            ["cf_anxiety", "cf_depression"],
        )
        d["q_in_school"] = _yes(rng, _expit(3.2 - 0.9 * z - 0.25 * (age - 11) - 0.8 * dis))
        d["q_read_story"] = _ordinal(
            rng.normal(0.6 - 0.7 * z, 1), [-1.2, -0.2], ["cannot", "with_difficulty", "easily"]
        )
        d["q_safe_school"] = np.where(
            d["q_in_school"] == "yes",
            _ordinal(
                rng.normal(0.5 - 0.4 * z - 0.6 * dis, 1),
                [-1.4, -0.4, 0.6],
                ["never", "sometimes", "mostly", "always"],
            ),
            None,
        )
        d["q_bullied_month"] = _yes(rng, _expit(-1.4 + 0.3 * z + 0.8 * dis))
        d["q_climate_heard"] = _yes(rng, _expit(0.4 - 0.6 * z + 0.3 * step))
        d["q_adults_listen"] = np.where(
            rng.random(n) < 0.07,
            "dont_know",
            _ordinal(
                rng.normal(-0.1 - 0.4 * z + 0.15 * step, 1),
                [-1.0, 0.0, 1.3],
                ["strongly_disagree", "disagree", "agree", "strongly_agree"],
            ),
        )
    else:
        d["gender_identity"] = np.where(
            fem, "woman", np.where(d["sex"] == "male", "man", "other")
        ).astype(object)
        u = rng.random(n)
        d.loc[u < 0.006, "gender_identity"] = np.where(
            fem[u < 0.006], "transgender_man", "transgender_woman"
        )
        d.loc[(u >= 0.006) & (u < 0.010), "gender_identity"] = "non_binary"
        d.loc[(u >= 0.010) & (u < 0.014), "gender_identity"] = "prefer_not_to_say"
        p_lgb = 0.028 + 0.012 * youth + 0.01 * (~rural)
        v = rng.random(n)
        d["sexual_orientation"] = np.where(
            v < p_lgb * 0.55,
            np.where(fem, "lesbian", "gay"),
            np.where(
                v < p_lgb, "bisexual", np.where(v > 0.97, "prefer_not_to_say", "heterosexual")
            ),
        ).astype(object)
        lgbt = (
            d["sexual_orientation"].isin(["lesbian", "gay", "bisexual"])
            | d["gender_identity"].isin(["transgender_man", "transgender_woman", "non_binary"])
        ).to_numpy()
        _functioning(rng, d, [c for c, _ in WG_QUESTIONS], [2, 1.5, 3, 1.5, 1, 1])
        d["q_water_basic"] = _yes(rng, _expit(2.0 - 0.8 * z))
        d["q_social_assist"] = _yes(rng, _expit(-1.6 + 0.45 * z))
        d["q_education"] = _ordinal(
            rng.normal(0.4 - 0.7 * z + 0.4 * (age < 35) + 0.1 * step, 1),
            [-1.8, -0.9, 0.0, 1.0],
            [c for c, _ in EDUCATION],
        )
        d["q_training_12m"] = _yes(rng, _expit(-0.9 - 0.5 * z + 0.5 * youth + 0.1 * step))
        status = np.empty(n, dtype=object)
        student = youth & (rng.random(n) < _expit(0.8 - 0.4 * (age - cs.age_min) - 0.3 * z))
        working = rng.random(n) < _expit(1.3 - 0.6 * z - 0.9 * dis)
        status[working] = np.where(
            rural[working] & (rng.random(working.sum()) < 0.6), "self_employed", "employed"
        )
        rest = ~working
        status[rest] = _cat(
            rng,
            rest.sum(),
            ["unemployed", "homemaker", "unable_to_work", "retired", "other"],
            [0.35, 0.3, 0.12, 0.15, 0.08],
        )
        status[rest & dis & (rng.random(n) < 0.5)] = "unable_to_work"
        status[rest & (age < 50) & (status == "retired")] = "unemployed"
        status[rest & ~fem & (status == "homemaker") & (rng.random(n) < 0.7)] = "unemployed"
        status[student] = "student"
        d["q_work_status"] = status
        d["q_training_4w"] = np.where(
            status != "student", _yes(rng, _expit(-2.0 - 0.4 * z + 0.6 * youth)), None
        )
        d["q_social_insurance"] = np.where(
            np.isin(status, ["employed", "self_employed"]),
            _yes(rng, _expit(0.0 - 0.7 * z + 1.0 * (status == "employed") + 0.2 * step)),
            None,
        )
        partnered = np.where(fem, _yes(rng, _expit(-1.0 + 0.15 * (age - 18))), None)
        d["q_ever_partnered"] = partnered
        d["q_violence_12m"] = np.where(
            partnered == "yes", _yes(rng, _expit(-2.1 + 0.5 * z + 0.5 * dis - 0.1 * step)), None
        )
        d["q_community_voice"] = _yes(rng, _expit(-0.6 - 0.6 * z + 0.4 * (~fem) + 0.1 * step))
        d["q_climate_heard"] = _yes(rng, _expit(0.8 - 0.7 * z + 0.2 * step))
        affected = _yes(rng, _expit(-1.6 + 2.4 * disaster + 0.3 * rural))
        d["q_disaster_affected"] = affected
        d["q_disaster_warning"] = np.where(
            affected == "yes", _yes(rng, _expit(0.9 - 0.6 * z + 0.3 * step)), None
        )
        walk = _ordinal(
            rng.normal(0.9 - 0.5 * z - 0.5 * fem, 1),
            [-0.9, 0.0, 1.2],
            ["very_unsafe", "unsafe", "safe", "very_safe"],
        )
        d["q_safe_walking"] = np.where(rng.random(n) < 0.03 + 0.08 * dis, "never_walk", walk)
        attacked = _yes(rng, _expit(-2.3 + 0.4 * z + 0.4 * lgbt))
        d["q_violence_any_12m"] = attacked
        d["q_violence_reported"] = np.where(
            attacked == "yes", _yes(rng, _expit(-0.8 - 0.5 * z + 0.25 * step)), None
        )
        used = _yes(rng, np.full(n, 0.72))
        d["q_service_used"] = used
        d["q_service_satisfied"] = np.where(
            used == "yes",
            _ordinal(
                rng.normal(0.6 - 0.45 * z + 0.12 * step, 1),
                [-1.5, -0.6, 0.2, 1.3],
                ["1", "2", "3", "4", "5"],
            ),
            None,
        )
        d["q_decision_inclusive"] = np.where(
            rng.random(n) < 0.06,
            "dont_know",
            _ordinal(
                rng.normal(0.1 - 0.5 * z + 0.1 * step, 1),
                [-1.0, 0.0, 1.3],
                ["strongly_disagree", "disagree", "agree", "strongly_agree"],
            ),
        )
        disc = _yes(
            rng,
            _expit(
                -2.0
                + 0.4 * z
                + 1.3 * lgbt
                + 0.5 * dis
                + 0.5 * (d["ethnicity"] == "minority").to_numpy()
                - 0.1 * step
            ),
        )
        d["q_discriminated"] = disc
        mino = (d["ethnicity"] == "minority").to_numpy()
        trans = (
            d["gender_identity"]
            .isin(["transgender_man", "transgender_woman", "non_binary"])
            .to_numpy()
        )
        lgb = d["sexual_orientation"].isin(["lesbian", "gay", "bisexual"]).to_numpy()
        grounds = []
        for i in range(n):
            if disc[i] != "yes":
                grounds.append(None)
                continue
            probs = {
                "sex": 0.5 if fem[i] else 0.08,
                "age": 0.15,
                "disability": 0.7 if dis[i] else 0.01,
                "ethnicity": 0.7 if mino[i] else 0.02,
                "sexual_orientation": 0.7 if lgb[i] else 0,
                "gender_identity": 0.7 if trans[i] else 0,
                "income": 0.3,
                "religion": 0.05,
                "other": 0.05,
            }
            pick = [g for g, _ in GROUNDS if rng.random() < probs[g]]
            grounds.append(" ".join(pick) if pick else "other")
        d["q_discrim_grounds"] = grounds
    return d


def add_meta(
    rng: np.random.Generator, cs: CountrySpec, spec: CycleSpec, plan: Plan, d: pd.DataFrame
) -> pd.DataFrame:
    """Interview times, ids, device, validation, contact details and GPS, as a tool records them."""
    n = len(d)
    days = (spec.end - spec.start).days + 1
    day = rng.integers(0, days, n)
    d = d.assign(_day=day).sort_values(["_day", "psu"], kind="stable").reset_index(drop=True)
    minutes = {"adults": 38.0, "children": 27.0, "cso": 32.0}[plan.population]
    start = [
        datetime.combine(spec.start + timedelta(days=int(x)), datetime.min.time())
        + timedelta(minutes=int(m))
        for x, m in zip(d["_day"], rng.integers(7 * 60, 18 * 60, n), strict=True)
    ]
    dur = np.maximum(rng.lognormal(np.log(minutes), 0.28, n), 9.0)
    d["start"] = start
    d["end"] = [s + timedelta(seconds=int(x * 60)) for s, x in zip(start, dur, strict=True)]
    d["submitted"] = [
        e - timedelta(hours=cs.utc_offset) + timedelta(minutes=int(m))
        for e, m in zip(d["end"], rng.integers(2, 60 * 48, n), strict=True)
    ]
    d = d.sort_values("submitted", kind="stable").reset_index(drop=True)
    d["interview_date"] = [s.date() for s in d["start"]]
    d["consent"] = "yes"
    if plan.population == "children":
        d["guardian_consent"] = "yes"
        d["child_assent"] = "yes"
    enum = {p: f"E{int(rng.integers(1, 40)):02d}" for p in sorted(d["psu"].unique())}
    d["enumerator"] = d["psu"].map(enum)
    d["deviceid"] = [
        f"collect:{''.join(rng.choice(list('ABCDEFGHJKLMNPQRSTUVWXYZ23456789'), 16))}"
        for _ in range(n)
    ]
    d["uuid"] = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]
    d["_id"] = 180_000_000 + spec.cycle * 1000 + np.cumsum(rng.integers(1, 40, n))
    d["validation"] = _cat(rng, n, ["approved", "none", "on_hold"], [0.72, 0.265, 0.015])
    d["commune_id"] = d["psu"]
    recontact = rng.random(n) < 0.35
    d["recontact"] = np.where(recontact, "yes", "no")
    d["respondent_name"] = [
        f"{cs.family[int(rng.integers(len(cs.family)))]} {cs.given[int(rng.integers(len(cs.given)))]}"
        if r
        else None
        for r in recontact
    ]
    d["phone"] = [
        cs.phone.format(
            a=int(rng.integers(10, 99)), b=int(rng.integers(0, 1000)), c=int(rng.integers(0, 1000))
        )
        if r
        else None
        for r in recontact
    ]
    centre = {
        p: (rng.uniform(*cs.region(r).lat), rng.uniform(*cs.region(r).lon))
        for p, r in sorted(set(zip(d["psu"], d["region"], strict=True)))
    }
    d["lat"] = [round(centre[p][0] + rng.normal(0, 0.01), 6) for p in d["psu"]]
    d["lon"] = [round(centre[p][1] + rng.normal(0, 0.01), 6) for p in d["psu"]]
    d["alt"] = np.round(rng.uniform(0, 400, n), 1)
    d["acc"] = np.round(rng.uniform(3, 25, n), 1)
    cm = rng.random(n) < 0.08
    d["q_comment"] = [COMMENTS[int(rng.integers(len(COMMENTS)))] if c else None for c in cm]
    return d.drop(columns=["_day"])


def add_dirt(
    rng: np.random.Generator, spec: CycleSpec, plan: Plan, d: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """Plant the problems real exports have (~2-3% of rows); return a description of each kind."""
    n = len(d)
    for c in d.columns:  # pandas 3 string columns refuse the planted wrong-typed codes
        if not (pd.api.types.is_numeric_dtype(d[c]) or pd.api.types.is_datetime64_any_dtype(d[c])):
            d[c] = d[c].astype(object)
    k = max(1, round(n * 0.004))
    idx = rng.permutation(np.arange(5, n))
    take = iter(
        np.split(idx[: 8 * k + 4], [k, 2 * k, 3 * k, 4 * k, 4 * k + 2, 4 * k + 3, 4 * k + 4])
    )
    notes = []
    rows = next(take)
    d.loc[rows, "consent"] = None
    notes.append(f"{len(rows)} rows with consent missing")
    rows = next(take)
    d.loc[rows, "end"] = d.loc[rows, "start"] + timedelta(minutes=3, seconds=12)
    notes.append(f"{len(rows)} rows with an implausible duration (about 3 minutes)")
    rows = next(take)
    d.loc[rows, "validation"] = "not_approved"
    notes.append(f"{len(rows)} rows with validation status not_approved")
    rows = next(take)
    unknown = {
        "adults": ("q_safe_walking", "quite_safe"),
        "children": ("q_safe_school", 9),
        "cso": ("q_cso_space", 9),
    }[plan.population]
    d.loc[rows, unknown[0]] = unknown[1]
    notes.append(f"{len(rows)} rows with an unknown code in {unknown[0]} ({unknown[1]!r})")
    rows = next(take)
    if plan.population != "cso":
        d["age"] = d["age"].astype(object)
        bad = (9, 131) if plan.population == "adults" else (8, 17)
        d.loc[rows, "age"] = list(bad[: len(rows)])
        notes.append(f"{len(rows)} rows with age out of range {bad}")
    d.loc[next(take), "q_comment"] = HOSTILE_FORMULA
    d.loc[next(take), "q_comment"] = HOSTILE_SCRIPT
    notes.append("1 text answer starting with '=' and 1 holding <script> (hostile text)")
    if spec.canary and plan.population == "adults":
        r = d.index[6]
        d.loc[r, ["recontact", "respondent_name", "phone"]] = ["yes", CANARY_NAME, CANARY_PHONE]
        notes.append("the canary identifiers in row 7")
    dup = np.sort(rng.choice(np.arange(n), size=2 * k, replace=False))
    copies = d.loc[dup].copy()
    copies["submitted"] = copies["submitted"] + timedelta(minutes=1, seconds=7)
    copies["_id"] = copies["_id"] + 1_000_000
    d = (
        pd.concat([d, copies])
        .sort_values(["submitted", "_id"], kind="stable")
        .reset_index(drop=True)
    )
    notes.append(f"{len(copies)} duplicate submissions (same _uuid, resent a minute later)")
    return d, notes


# --------------------------------------------------------------------------- forms

BASE_LISTS = {
    "yes_no": YES_NO,
    "difficulty": DIFFICULTY,
    "frequency": FREQUENCY,
    "sex": SEX,
    "gender_identity": GENDER_IDENTITY,
    "sexual_orientation": ORIENTATION,
    "ethnicity": ETHNICITY,
    "urban_rural": URBAN_RURAL,
    "education": EDUCATION,
    "work_status": WORK_STATUS,
    "safe4": SAFE4,
    "satisfaction5": SATISFACTION5,
    "agree4": AGREE4,
    "grounds": GROUNDS,
    "read3": READ3,
    "safe_school": SAFE_SCHOOL,
    "organisation_type": ORG_TYPE,
    "cso_areas": CSO_AREAS,
    "space5": SPACE5,
}
# VN 2020 used numeric choice names for these lists (as many national forms do).
NUMERIC_ORDER = {"sex": ["male", "female", "intersex"]}


def _region_list(root: Path, iso: str) -> list[tuple[str, dict]]:
    reg = yaml.safe_load((root / "countries.yml").read_text(encoding="utf-8"))
    country = next(c for c in reg["countries"] if c["iso"] == iso)
    return [(r["code"], dict(r["name"])) for r in country["regions"]]


def choice_lists(plan: Plan, regions: list[tuple[str, dict]]) -> dict[str, list[tuple[str, dict]]]:
    lists = dict(BASE_LISTS, region=regions)
    for name in plan.numeric_lists:
        order = NUMERIC_ORDER.get(name, [c for c, _ in lists[name]])
        labels = dict(lists[name])
        lists[name] = [(str(i + 1), labels[c]) for i, c in enumerate(order)]
    return lists


def renames(plan: Plan, regions) -> dict[str, dict[str, str]]:
    """{list name: {contract code: code in this form}} for lists with numeric choice names."""
    out = {}
    for name in plan.numeric_lists:
        order = NUMERIC_ORDER.get(
            name, [c for c, _ in (regions if name == "region" else BASE_LISTS[name])]
        )
        out[name] = {c: str(i + 1) for i, c in enumerate(order)}
    return out


def form_rows(plan: Plan, cs: CountrySpec) -> list[Q]:
    if plan.population == "adults":
        return adults_form(cs.age_min)
    return children_form() if plan.population == "children" else cso_form()


def write_form(path: Path, spec: CycleSpec, plan: Plan, cs: CountrySpec, regions) -> None:
    """A real XLSForm (survey, choices, settings) with a label column per language."""
    import openpyxl

    langs = list(cs.languages)
    lcols = [f"label::{LANG_NAMES[lang]} ({lang})" for lang in langs]
    female = renames(plan, regions).get("sex", {}).get("female", "female")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(
        ["type", "name", *lcols, "required", "relevant", "constraint", "calculation", "appearance"]
    )
    for q in form_rows(plan, cs):
        labels = [q.label.get(lang, q.label.get("en", "")) if q.label else None for lang in langs]
        ws.append(
            [
                q.type,
                q.name or None,
                *labels,
                "true" if q.required else None,
                q.relevant.replace("{female}", female) or None,
                q.constraint or None,
                q.calculation or None,
                q.appearance or None,
            ]
        )
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", *lcols])
    used = sorted({q.list_name for q in form_rows(plan, cs) if q.list_name})
    lists = choice_lists(plan, regions)
    for name in used:
        for code, lab in lists[name]:
            ch.append([name, code, *[lab.get(lang, lab.get("en")) for lang in langs]])
    st = wb.create_sheet("settings")
    st.append(["form_title", "form_id", "version", "default_language"])
    st.append(
        [
            f"[SYNTHETIC] {plan.label['en']} {spec.cycle}",
            f"lnob_{cs.iso.lower()}_{plan.name}_{spec.cycle}",
            f"{spec.cycle}.1",
            f"{LANG_NAMES['en']} (en)",
        ]
    )
    save_xlsx(wb, path)


# --------------------------------------------------------------------------- deterministic writers


def save_xlsx(wb, path: Path) -> None:
    """Save a workbook byte-identically: fixed document dates, zip entries sorted and dated."""
    wb.properties.creator = "voicescount examples (synthetic)"
    wb.properties.lastModifiedBy = None
    wb.properties.created = FIXED_DOC_TIME
    wb.properties.modified = FIXED_DOC_TIME
    buf = io.BytesIO()
    wb.save(buf)
    stamp = FIXED_DOC_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin:
        entries = {name: zin.read(name) for name in zin.namelist()}
    core = entries.get("docProps/core.xml")
    if core is not None:
        core = re.sub(
            rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
            lambda m: m.group(1) + stamp.encode() + m.group(3),
            core,
        )
        entries["docProps/core.xml"] = core
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, entries[name])


def write_csv(
    path: Path,
    header: list[str],
    rows: list[list],
    sep: str = ",",
    bom: bool = False,
    crlf: bool = False,
) -> None:
    """CSV with every value already formatted as text (fixed float formatting upstream)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(
        buf, delimiter=sep, lineterminator="\r\n" if crlf else "\n", quoting=csv.QUOTE_MINIMAL
    )
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    path.write_bytes(("\ufeff" if bom else "").encode() + buf.getvalue().encode("utf-8"))


def _fix_sav_timestamp(path: Path) -> None:
    """SPSS .sav headers embed the creation date and time (bytes 92-108); pin them."""
    data = bytearray(path.read_bytes())
    assert data[:4] in (b"$FL2", b"$FL3")
    data[92:101] = b"01 Jan 20"
    data[101:109] = b"00:00:00"
    path.write_bytes(bytes(data))


def _fix_dta_timestamp(path: Path) -> None:
    """Stata 117+ .dta headers embed <timestamp>; pin it."""
    data = path.read_bytes()
    data = re.sub(
        rb"<timestamp>\x11.{17}</timestamp>",
        b"<timestamp>\x1101 Jan 2020 00:00</timestamp>",
        data,
        count=1,
        flags=re.S,
    )
    path.write_bytes(data)


# --------------------------------------------------------------------------- exports

KOBO_TAIL = [
    "_id",
    "_uuid",
    "_submission_time",
    "_validation_status",
    "_notes",
    "_status",
    "_submitted_by",
    "__version__",
    "_tags",
    "_index",
]
ODK_TAIL = [
    "meta-instanceID",
    "KEY",
    "SubmitterID",
    "SubmitterName",
    "AttachmentsPresent",
    "AttachmentsExpected",
    "Status",
    "ReviewState",
    "DeviceID",
    "Edits",
    "FormVersion",
]
VALIDATION = {
    "kobo-xlsx": {
        "approved": "Approved",
        "not_approved": "Not Approved",
        "on_hold": "On Hold",
        "none": None,
    },
    "kobo-csv": {
        "approved": "validation_status_approved",
        "not_approved": "validation_status_not_approved",
        "on_hold": "validation_status_on_hold",
        "none": None,
    },
    "odk-csv": {
        "approved": "approved",
        "not_approved": "rejected",
        "on_hold": "hasIssues",
        "none": None,
    },
}
VALIDATION["spss"] = VALIDATION["stata"] = VALIDATION["kobo-csv"]


def _columns(plan: Plan, cs: CountrySpec) -> list[tuple[str, str, str]]:
    """(export header, data key, kind) in the order the tool writes them."""
    style, fmt = plan.headers, plan.fmt
    stack: list[str] = []
    out: list[tuple[str, str, str]] = []
    flat = fmt in ("spss", "stata")

    def head(name: str) -> str:
        if style == "path" and stack:
            return "/".join([*stack, name])
        if style == "odk" and stack:
            return "-".join([*stack, name])
        return name

    lists = None
    for q in form_rows(plan, cs):
        if q.type == "begin_group":
            stack.append(q.name)
            continue
        if q.type == "end_group":
            stack.pop()
            continue
        if q.type == "note":
            continue
        h = head(q.name)
        if q.type == "geopoint":
            if style == "odk":
                out += [
                    (f"{h}-{s}", k, "num")
                    for s, k in (
                        ("Latitude", "lat"),
                        ("Longitude", "lon"),
                        ("Altitude", "alt"),
                        ("Accuracy", "acc"),
                    )
                ]
            elif flat:
                out += [(f"{q.name}_lat", "lat", "num"), (f"{q.name}_lon", "lon", "num")]
            else:
                out.append((h, "gps", "gps"))
                out += [
                    (f"_{h}_{s}", k, "num")
                    for s, k in (
                        ("latitude", "lat"),
                        ("longitude", "lon"),
                        ("altitude", "alt"),
                        ("precision", "acc"),
                    )
                ]
            continue
        key = {"start": "start", "end": "end"}.get(q.type, q.name)
        kind = {
            "start": "time",
            "end": "time",
            "date": "date",
            "integer": "int",
            "calculate": "calc",
        }.get(q.type, "text")
        if q.list_name:
            kind = "select_multiple" if q.type.startswith("select_multiple") else "select_one"
        out.append((h, key, kind))
        if kind == "select_multiple" and style != "odk":
            lists = lists or BASE_LISTS
            for code, _ in lists[q.list_name]:
                out.append(
                    (f"{q.name}_{code}" if flat else f"{h}/{code}", f"{q.name}={code}", "dummy")
                )
    if fmt in ("kobo-xlsx", "kobo-csv"):
        out += [(c, c, "meta") for c in KOBO_TAIL]
    elif fmt == "odk-csv":
        out = (
            [("SubmissionDate", "_submission_time", "meta")]
            + out
            + [(c, c, "meta") for c in ODK_TAIL]
        )
    else:
        out += [(c, "_" + c, "meta") for c in ("uuid", "submission_time", "validation_status")]
    return out


def _fmt_time(dt, fmt: str, offset: int) -> object:
    if dt is None or (isinstance(dt, float) and np.isnan(dt)):
        return None
    if fmt == "kobo-xlsx":
        return dt.to_pydatetime() if hasattr(dt, "to_pydatetime") else dt
    if fmt in ("spss", "stata"):
        return pd.Timestamp(dt)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{(dt.second * 37) % 1000:03d}{offset:+03d}:00"


def build_export(
    d: pd.DataFrame, plan: Plan, cs: CountrySpec, spec: CycleSpec, regions, version: str
) -> tuple[list[str], list[list]]:
    """Rows as the tool writes them: choice names of this form, its date formats, its meta."""
    cols = _columns(plan, cs)
    ren = renames(plan, regions)
    form = {q.name: q for q in form_rows(plan, cs)}
    lists = choice_lists(plan, regions)
    numeric = plan.fmt in ("spss", "stata")
    rows = []
    for i, rec in enumerate(d.to_dict("records")):
        row = []
        for _header, key, kind in cols:
            v = rec.get(key)
            if isinstance(v, float) and np.isnan(v):
                v = None
            if kind == "time":
                v = _fmt_time(v, plan.fmt, cs.utc_offset)
            elif kind == "date":
                v = (
                    v
                    if plan.fmt == "kobo-xlsx"
                    else (pd.Timestamp(v) if numeric else (v.isoformat() if v else None))
                )
            elif kind == "int":
                v = None if v is None else (int(v) if isinstance(v, int | np.integer) else v)
            elif kind == "gps":
                v = f"{rec['lat']} {rec['lon']} {rec['alt']} {rec['acc']}"
            elif kind == "dummy":
                name, code = key.split("=")
                sel = rec.get(name)
                v = None if sel is None else int(code in str(sel).split())
            elif kind == "select_one":
                lst = form[key].list_name
                if v is not None and lst in ren:
                    v = ren[lst].get(v, v)
                if numeric and v is not None:
                    codes = [c for c, _ in lists[lst]]
                    v = codes.index(v) + 1 if v in codes else (int(v) if str(v).isdigit() else None)
                elif (
                    plan.fmt == "kobo-xlsx"
                    and lst in ("difficulty", "frequency", "satisfaction5", "space5")
                    and v is not None
                ):
                    v = int(v)
            elif kind == "calc":
                if key == "stratum":
                    r = ren.get("region", {}).get(rec["region"], rec["region"])
                    v = f"{r}_{rec['urban_rural']}" if plan.population != "cso" else r
                elif key == "weight":
                    v = round(float(rec["weight"]), 4)
                    v = v if plan.fmt == "kobo-xlsx" or numeric else f"{v:.4f}"
                elif key == "consent" and numeric:
                    v = {"yes": 1, "no": 2}.get(v)
            elif kind == "meta":
                v = _meta_value(key, rec, i, plan, cs, version)
            if not numeric and plan.fmt != "kobo-xlsx" and v is not None and not isinstance(v, str):
                v = str(v)
            row.append(v)
        rows.append(row)
    return [c[0] for c in cols], rows


def _meta_value(key: str, rec: dict, i: int, plan: Plan, cs: CountrySpec, version: str):
    fmt = plan.fmt
    sub = rec["submitted"]
    val = VALIDATION[fmt][rec["validation"]]
    if key in ("_id",):
        return int(rec["_id"])
    if key in ("_uuid", "_uuid"):
        return rec["uuid"]
    if key == "_submission_time":
        if fmt == "odk-csv":
            return f"{sub:%Y-%m-%dT%H:%M:%S}.{(sub.second * 53) % 1000:03d}Z"
        if fmt in ("spss", "stata"):
            return pd.Timestamp(sub)
        return sub.to_pydatetime() if fmt == "kobo-xlsx" else f"{sub:%Y-%m-%dT%H:%M:%S}"
    if key == "_validation_status":
        return val
    if key == "_status":
        return "submitted_via_web"
    if key == "_submitted_by":
        return f"lnob_{cs.iso.lower()}_partner"
    if key == "__version__":
        return version
    if key == "_index":
        return i + 1
    if key in ("meta-instanceID", "KEY"):
        return f"uuid:{rec['uuid']}"
    if key == "SubmitterID":
        return str(100 + int(rec["enumerator"][1:]))
    if key == "SubmitterName":
        return f"enumerator-{rec['enumerator']}"
    if key in ("AttachmentsPresent", "AttachmentsExpected", "Edits"):
        return "0"
    if key == "ReviewState":
        return val
    if key == "DeviceID":
        return rec["deviceid"]
    if key == "FormVersion":
        return version
    if key == "_uuid_flat" or key == "_uuid":
        return rec["uuid"]
    if key == "_submission_time_flat":
        return pd.Timestamp(sub)
    if key == "_validation_status_flat":
        return val
    return None


def write_export(
    path: Path,
    header: list[str],
    rows: list[list],
    plan: Plan,
    spec: CycleSpec,
    form_title: str,
    regions,
) -> None:
    import openpyxl

    if plan.fmt == "kobo-xlsx":
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = re.sub(r"[\[\]:*?/\\]", "", form_title).strip()[:31]
        ws.append(header)
        for r in rows:
            ws.append(r)
        for row in ws.iter_rows(min_row=2):
            for cell in row:  # Kobo writes '=...' answers as text, never as formulas
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
        save_xlsx(wb, path)
    elif plan.fmt in ("kobo-csv", "odk-csv"):
        write_csv(path, header, rows, sep=plan.sep, bom=plan.bom)
    else:
        import pyreadstat

        df = pd.DataFrame(rows, columns=header)
        for c in df.columns:
            if df[c].map(lambda v: isinstance(v, str)).any():
                # Missing answers are blank strings, as SPSS/Stata exports hold them (str()
                # of a float NaN would write the literal text "nan").
                df[c] = df[c].map(
                    lambda v: v if isinstance(v, str) else "" if pd.isna(v) else str(v)
                )
            elif df[c].map(lambda v: isinstance(v, pd.Timestamp)).any():
                df[c] = pd.to_datetime(df[c])
            else:
                df[c] = pd.to_numeric(df[c], errors="coerce")
        labels, value_labels = _stat_labels(plan, header, regions)
        if plan.fmt == "spss":
            pyreadstat.write_sav(
                df,
                str(path),
                file_label=f"SYNTHETIC {plan.name} {spec.cycle}",
                column_labels=labels,
                variable_value_labels=value_labels,
            )
            _fix_sav_timestamp(path)
        else:
            pyreadstat.write_dta(
                df,
                str(path),
                file_label=f"SYNTHETIC {plan.name} {spec.cycle}",
                column_labels=labels,
                variable_value_labels=value_labels,
                version=15,
            )
            _fix_dta_timestamp(path)


def _stat_labels(plan: Plan, header: list[str], regions):
    """Variable labels (English) and value labels for SPSS/Stata exports."""
    rows = {q.name: q for q in form_rows(plan, VN)}
    labels, values = {}, {}
    for h in header:
        q = rows.get(h)
        labels[h] = (q.label.get("en", "") if q and q.label else h)[:80]
        if q and q.list_name and q.type.startswith("select_one") and q.list_name in BASE_LISTS:
            values[h] = {
                i + 1: lab["en"][:60] for i, (_, lab) in enumerate(BASE_LISTS[q.list_name])
            }
        elif h == "region":
            values[h] = {i + 1: lab["en"] for i, (_, lab) in enumerate(regions)}
        elif h == "consent":
            values[h] = {1: "Yes", 2: "No"}
    return labels, values


# --------------------------------------------------------------------------- cycle.yml

CONTRACT_KEYS = {
    "started_at": "start",
    "ended_at": "end",
    "enumerator": "enumerator",
    "consent": "consent",
    "region": "region",
    "province": "province",
    "urban_rural": "urban_rural",
    "sex": "sex",
    "gender_identity": "gender_identity",
    "sexual_orientation": "sexual_orientation",
    "age": "age",
    "ethnicity": "ethnicity",
    "ethnic_group": "ethnic_group",
    "organisation_type": "organisation_type",
    "weight": "weight",
    "stratum": "stratum",
    "psu": "commune_id",
}
META_KEYS = {
    "kobo": {
        "respondent_id": "_uuid",
        "submitted_at": "_submission_time",
        "validation_status": "_validation_status",
    },
    "odk-csv": {
        "respondent_id": "KEY",
        "submitted_at": "_submission_time",
        "validation_status": "ReviewState",
    },
    "stat": {
        "respondent_id": "_uuid",
        "submitted_at": "_submission_time",
        "validation_status": "_validation_status",
    },
}


def instrument_entry(plan: Plan, cs: CountrySpec, regions, ext: str) -> dict:
    """The cycle.yml entry for one instrument: files, mapping, codes, identifiers."""
    cols = _columns(plan, cs)
    by_key = {}
    for header, key, kind in cols:
        if kind != "dummy":
            by_key.setdefault(key, (header, kind))
    family = (
        "kobo" if plan.fmt.startswith("kobo") else ("odk-csv" if plan.fmt == "odk-csv" else "stat")
    )
    mapping = {c: by_key[k][0] for c, k in META_KEYS[family].items()}
    for c, k in CONTRACT_KEYS.items():
        if k in by_key:
            mapping[c] = by_key[k][0]
    for key, (header, _) in by_key.items():
        if key.startswith(("q_", "wg_", "cf_")):
            mapping[key] = header
    codes: dict[str, dict] = {}
    numeric = plan.fmt in ("spss", "stata")
    codes["consent"] = {"1": True, "2": False} if numeric else {"yes": True, "no": False}
    codes["validation_status"] = {v: k for k, v in VALIDATION[plan.fmt].items() if v is not None}
    for lst, ren in renames(plan, regions).items():
        codes[lst] = {v: k for k, v in ren.items()}
    if numeric:
        form = {q.name: q for q in form_rows(plan, cs)}
        lists = choice_lists(plan, regions)
        for col in mapping:
            q = form.get(col) or form.get(CONTRACT_KEYS.get(col, ""))
            if q is not None and q.type.startswith("select_one") and col != "consent":
                if q.list_name in ("difficulty", "frequency"):
                    continue  # already the contract's numeric codes
                codes[col] = {str(i + 1): c for i, (c, _) in enumerate(lists[q.list_name])}
    idents = [
        h
        for h, k, _ in cols
        if k
        in ("respondent_name", "phone", "lat", "lon", "alt", "acc", "gps", "deviceid", "org_name")
    ]
    idents += [h for h, k, _ in cols if k == "DeviceID"]
    entry = {
        "label": plan.label
        if cs.iso == "VN"
        else {k: v for k, v in plan.label.items() if k in cs.languages},
        "population": plan.population,
        "form": f"forms/{plan.name}.xlsx",
        "data": f"exports/{plan.name}.{ext}",
        "format": plan.fmt,
    }
    if plan.fmt == "kobo-csv":
        entry["encoding"] = "utf-8-sig" if plan.bom else "utf-8"
    entry.update(
        {
            "values": "xml",
            "mapping": mapping,
            "codes": codes,
            "identifiers": idents,
            "min_duration_minutes": 5,
            "max_duration_minutes": 180,
        }
    )
    return entry


EXT = {"kobo-xlsx": "xlsx", "kobo-csv": "csv", "odk-csv": "csv", "spss": "sav", "stata": "dta"}


# Adults are raked to the adult margins in population.csv; children and CSOs have no margins
# and keep their design weights. Intersex respondents keep their sample share (a census
# counts them within female and male). Refusals are the non-respondents, by stratum.
WEIGHTING = {
    "instrument": "adults",
    "margins": ["sex", "age_group", "region", "urban_rural"],
    "keep_sample_share": {"sex": ["intersex"]},
    "nonresponse": {"classes": ["stratum"]},
    "trim": {"lower": 0.2, "upper": 5.0},
    "max_iter": 100,
    "tolerance": 1.0e-8,
}


def _dump_yaml(path: Path, data: dict, header: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    path.write_text(header + text, encoding="utf-8")


def generate_cycle(out: Path, spec: CycleSpec, seed: int, scale: float, regions) -> dict:
    """Forms, exports and cycle.yml for one (country, cycle); returns the dirt planted."""
    cs = COUNTRIES[spec.iso]
    cdir = out / spec.iso / str(spec.cycle)
    instruments, planted = {}, {}
    for k, plan in enumerate(spec.plans):
        rng = np.random.default_rng([seed, spec.cycle, k, sum(map(ord, spec.iso))])
        d = simulate(rng, cs, spec, plan, _scaled(plan.n, scale))
        d = add_meta(rng, cs, spec, plan, d)
        d, notes = add_dirt(rng, spec, plan, d)
        planted[plan.name] = notes
        version = "v" + "".join(
            rng.choice(list("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 21)
        )
        title = f"[SYNTHETIC] {plan.label['en']} {spec.cycle}"
        write_form(cdir / "forms" / f"{plan.name}.xlsx", spec, plan, cs, regions)
        header, rows = build_export(d, plan, cs, spec, regions, version)
        ext = EXT[plan.fmt]
        write_export(
            cdir / "exports" / f"{plan.name}.{ext}", header, rows, plan, spec, title, regions
        )
        instruments[plan.name] = instrument_entry(plan, cs, regions, ext)
    doc = {
        "country": spec.iso,
        "cycle": spec.cycle,
        "title": {k: v for k, v in spec.title.items() if k in cs.languages},
        "synthetic": True,
        "languages": list(cs.languages),
        "sdgs": [1, 4, 5, 8, 13, 16],
        "fieldwork": {"start": spec.start.isoformat(), "end": spec.end.isoformat()},
        "instruments": instruments,
        "design": {"weight": "weight", "strata": "stratum", "psu": "psu"},
        "weighting": WEIGHTING,
        "identifiers": [],
    }
    if spec.side_files:
        doc.update(
            {
                "qualitative": "side/qualitative.csv",
                "activities": "side/activities.csv",
                "scorecards": "side/scorecards.csv",
                "recommendations": "side/recommendations.csv",
            }
        )
    _dump_yaml(
        cdir / "cycle.yml", doc, f"# {SYNTHETIC_NOTE}\n# Planted problems: see ../README.md.\n"
    )
    return planted


# --------------------------------------------------------------------------- population margins

AGE_SHARES = {
    "VN": [0.15, 0.21, 0.21, 0.25, 0.18],
    "KE": [0.24, 0.27, 0.20, 0.18, 0.11],
    "BD": [0.20, 0.25, 0.20, 0.20, 0.15],
}
FEMALE_SHARE = {"VN": 0.506, "KE": 0.503, "BD": 0.505}


def _split(total: int, shares) -> list[int]:
    vals = [int(round(total * s / sum(shares))) for s in shares]
    vals[-1] += total - sum(vals)
    return vals


def population_rows(iso: str, root: Path) -> list[list]:
    """Adult population margins for raking: every dimension sums to the same national total."""
    cs = COUNTRIES[iso]
    reg = yaml.safe_load((root / "countries.yml").read_text(encoding="utf-8"))
    bands = next(c for c in reg["countries"] if c["iso"] == iso)["age_bands"]
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(bands, bands[1:], strict=False)] + [
        f"{bands[-1]}+"
    ]
    regions = [int(round(r.adults_m * 1e6, -3)) for r in cs.regions]
    total = sum(regions)
    urban = int(round(sum(r.adults_m * 1e6 * r.urban for r in cs.regions), -3))
    rows = [["region", r.code, v] for r, v in zip(cs.regions, regions, strict=True)]
    rows += [["urban_rural", "urban", urban], ["urban_rural", "rural", total - urban]]
    rows += [
        ["sex", c, v]
        for c, v in zip(
            ["female", "male"],
            _split(total, [FEMALE_SHARE[iso], 1 - FEMALE_SHARE[iso]]),
            strict=True,
        )
    ]
    rows += [
        ["age_group", lab, v] for lab, v in zip(labels, _split(total, AGE_SHARES[iso]), strict=True)
    ]
    return rows


# --------------------------------------------------------------------------- entry point


def generate(
    out_dir: str | Path,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
    registry_dir: str | Path | None = None,
) -> list[Path]:
    """Write every synthetic example file under `out_dir` (a data/ folder); return their paths.

    `scale` shrinks the respondent counts (tests use 0.05); `registry_dir` is where
    countries.yml is read (defaults to `out_dir`, then the repository's data/).
    """
    out = Path(out_dir)
    root = Path(registry_dir) if registry_dir else out
    if not (root / "countries.yml").is_file():
        root = Path(__file__).resolve().parents[2] / "data"
    planted = {}
    for spec in cycle_specs():
        regions = _region_list(root, spec.iso)
        planted[(spec.iso, spec.cycle)] = generate_cycle(out, spec, seed, scale, regions)
        if spec.side_files:
            write_side_files(out / spec.iso / str(spec.cycle) / "side", spec, seed)
    for iso in COUNTRIES:
        write_csv(
            out / iso / "population.csv",
            ["dimension", "code", "population"],
            [[str(v) for v in r] for r in population_rows(iso, root)],
        )
        write_country_readme(out / iso / "README.md", iso, planted)
    write_official(out / "official", seed)
    files = sorted(
        p for iso in [*COUNTRIES, "official"] for p in (out / iso).rglob("*") if p.is_file()
    )
    return files


def digest(paths: list[Path], base: Path) -> dict[str, str]:
    """sha256 of each file, keyed by its path relative to `base` (for the reproducibility check)."""
    return {
        p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(paths)
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m voicescount.examples",
        description="Write the synthetic example data (deterministic).",
    )
    ap.add_argument("--out", default="data", help="the data/ folder to write into (default: data)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply respondent counts (e.g. 0.05 for a quick run)",
    )
    args = ap.parse_args(argv)
    out = Path(args.out)
    for iso in [*COUNTRIES, "official"]:
        for sub in sorted((out / iso).glob("*")) if (out / iso).is_dir() else []:
            if sub.is_dir() and (sub.name.isdigit() or iso == "official"):
                shutil.rmtree(sub)
    files = generate(out, seed=args.seed, scale=args.scale)
    size = sum(p.stat().st_size for p in files)
    print(f"wrote {len(files)} files, {size / 1e6:.1f} MB under {out}")
    return 0


# --------------------------------------------------------------------------- side files (VN)

THEMES = [
    ("distance_services", 1, "Distance to basic services", "Khoảng cách đến dịch vụ cơ bản"),
    ("social_assistance_access", 1, "Access to social assistance", "Tiếp cận trợ giúp xã hội"),
    ("inclusive_schooling", 4, "Inclusive schooling", "Giáo dục hòa nhập"),
    ("vocational_training", 4, "Vocational training", "Đào tạo nghề"),
    ("gender_violence", 5, "Gender-based violence", "Bạo lực trên cơ sở giới"),
    ("care_work", 5, "Unpaid care work", "Công việc chăm sóc không được trả công"),
    ("informal_work", 8, "Informal and insecure work", "Việc làm phi chính thức, bấp bênh"),
    ("disaster_preparedness", 13, "Disaster preparedness", "Phòng chống thiên tai"),
    ("discrimination", 16, "Discrimination and stigma", "Phân biệt đối xử và kỳ thị"),
    (
        "participation",
        16,
        "Having a say in local decisions",
        "Tiếng nói trong quyết định ở địa phương",
    ),
]
QUOTES = {
    "distance_services": (
        "The health station is 12 km away and there is no bus.",
        "Trạm y tế cách 12 km và không có xe buýt.",
    ),
    "social_assistance_access": (
        "I did not know I could apply for the disability allowance.",
        "Tôi không biết mình được làm hồ sơ xin trợ cấp khuyết tật.",
    ),
    "inclusive_schooling": (
        "My son was told the school has no teacher for children like him.",
        "Con trai tôi bị nói rằng trường không có giáo viên cho trẻ như cháu.",
    ),
    "vocational_training": (
        "The training course was in Kinh language only.",
        "Khóa đào tạo nghề chỉ dạy bằng tiếng Kinh.",
    ),
    "gender_violence": (
        "Women here do not report violence because the village head is a relative.",
        "Phụ nữ ở đây không trình báo bạo lực vì trưởng thôn là họ hàng.",
    ),
    "care_work": ("I stopped working to look after my mother.", "Tôi nghỉ việc để chăm sóc mẹ."),
    "informal_work": (
        "We work on the plantation without a contract or insurance.",
        "Chúng tôi làm ở đồn điền mà không có hợp đồng hay bảo hiểm.",
    ),
    "disaster_preparedness": (
        "The flood warning came on the loudspeaker, but deaf people cannot hear it.",
        "Cảnh báo lũ phát trên loa, nhưng người khiếm thính không nghe được.",
    ),
    "discrimination": (
        "When they learnt I am transgender, the landlord asked me to leave.",
        "Khi biết tôi là người chuyển giới, chủ nhà đã đuổi tôi đi.",
    ),
    "participation": (
        "Nobody asks young people what we think at commune meetings.",
        "Không ai hỏi ý kiến thanh niên trong các cuộc họp xã.",
    ),
}
HOSTILE_SEGMENT = "The form said <img src=x onerror=alert(1)> when I opened it."
MYST_SEGMENT = "They told us to click {download}`x` to get the report, but we have no internet."
GROUPS_SIDE = ["youth", "women", "pwd", "children", "lgbt", "ethnic_minority", "cso"]
SERVICES = [
    (
        "commune_health_station",
        ["waiting_time", "staff_attitude", "accessibility_for_pwd", "medicine_availability"],
    ),
    ("primary_school", ["teacher_attendance", "inclusive_teaching", "school_safety", "toilets"]),
    (
        "social_assistance_office",
        ["information_on_entitlements", "processing_time", "staff_attitude"],
    ),
]
ACTIONS = [
    (
        "commune_health_station",
        "accessibility_for_pwd",
        "Build a ramp and an accessible toilet at the health station",
        "Xây đường dốc và nhà vệ sinh tiếp cận tại trạm y tế",
        "Commune People's Committee",
    ),
    (
        "commune_health_station",
        "waiting_time",
        "Publish opening hours and a queue system",
        "Công khai giờ làm việc và áp dụng xếp hàng theo số",
        "Commune health station",
    ),
    (
        "primary_school",
        "inclusive_teaching",
        "Train two teachers in inclusive education",
        "Tập huấn giáo dục hòa nhập cho hai giáo viên",
        "District Bureau of Education",
    ),
    (
        "primary_school",
        "school_safety",
        "Light the path to school and set up an anti-bullying group",
        "Lắp đèn đường đến trường và lập nhóm phòng chống bắt nạt",
        "School board",
    ),
    (
        "social_assistance_office",
        "information_on_entitlements",
        "Post entitlements in ethnic minority languages",
        "Niêm yết chế độ chính sách bằng tiếng dân tộc thiểu số",
        "Commune social affairs officer",
    ),
    (
        "social_assistance_office",
        "processing_time",
        "Process disability allowance files within 20 days",
        "Giải quyết hồ sơ trợ cấp khuyết tật trong 20 ngày",
        "District Division of Labour",
    ),
]
RECS = [
    (
        1,
        "Extend social assistance to informal workers and people with disabilities not yet certified",
        "Mở rộng trợ giúp xã hội cho lao động phi chính thức và người khuyết tật chưa được xác nhận",
        "Ministry of Labour, Invalids and Social Affairs",
        "SDG 1",
    ),
    (
        1,
        "Bring basic services within 30 minutes of every ethnic minority village",
        "Đưa dịch vụ cơ bản đến trong vòng 30 phút cho mọi thôn bản dân tộc thiểu số",
        "Committee for Ethnic Minority Affairs",
        "SDG 1",
    ),
    (
        4,
        "Fund inclusive education teachers in every district",
        "Bố trí ngân sách cho giáo viên giáo dục hòa nhập ở mỗi huyện",
        "Ministry of Education and Training",
        "SDG 4",
    ),
    (
        4,
        "Offer vocational training in minority languages",
        "Tổ chức đào tạo nghề bằng tiếng dân tộc thiểu số",
        "Ministry of Labour, Invalids and Social Affairs",
        "SDG 4",
    ),
    (
        5,
        "Set up safe reporting channels for gender-based violence at commune level",
        "Thiết lập kênh trình báo an toàn về bạo lực giới ở cấp xã",
        "Ministry of Culture, Sports and Tourism",
        "SDG 5",
    ),
    (
        5,
        "Count unpaid care work in the national time-use survey",
        "Đo lường công việc chăm sóc không được trả công trong điều tra sử dụng thời gian",
        "General Statistics Office",
        "SDG 5",
    ),
    (
        8,
        "Extend social insurance to plantation and platform workers",
        "Mở rộng bảo hiểm xã hội cho lao động đồn điền và lao động nền tảng số",
        "Viet Nam Social Security",
        "SDG 8",
    ),
    (
        8,
        "Track youth NEET by disability status",
        "Theo dõi tỷ lệ thanh niên không đi học, không làm việc theo tình trạng khuyết tật",
        "General Statistics Office",
        "SDG 8",
    ),
    (
        13,
        "Make disaster warnings accessible (text, sign language, visual alarms)",
        "Cảnh báo thiên tai dễ tiếp cận (tin nhắn, ngôn ngữ ký hiệu, đèn báo)",
        "Viet Nam Disaster and Dyke Management Authority",
        "SDG 13",
    ),
    (
        13,
        "Include people with disabilities in commune disaster plans",
        "Đưa người khuyết tật vào kế hoạch phòng chống thiên tai cấp xã",
        "Ministry of Agriculture and Rural Development",
        "SDG 13",
    ),
    (
        16,
        "Add sexual orientation and gender identity to discrimination statistics",
        "Bổ sung xu hướng tính dục và bản dạng giới vào thống kê phân biệt đối xử",
        "General Statistics Office",
        "SDG 16",
    ),
    (
        16,
        "Hold commune dialogues with youth and women before budget decisions",
        "Tổ chức đối thoại với thanh niên và phụ nữ trước khi quyết định ngân sách xã",
        "Ministry of Home Affairs",
        "SDG 16",
    ),
    (
        16,
        "Publish satisfaction with public services by group",
        "Công bố mức độ hài lòng với dịch vụ công theo nhóm dân cư",
        "Ministry of Home Affairs",
        "SDG 16",
    ),
]


def write_side_files(sdir: Path, spec: CycleSpec, seed: int) -> None:
    """Interviews, dialogues, coded segments, score cards and recommendations for one VN cycle."""
    rng = np.random.default_rng([seed, spec.cycle, 99])
    regions = [r.code for r in VN.regions]
    days = (spec.end - spec.start).days
    acts = []
    for kind, count in (("kii", 120), ("fgd", 24), ("dialogue", 3)):
        for i in range(count):
            grp = GROUPS_SIDE[int(rng.integers(len(GROUPS_SIDE)))] if kind != "dialogue" else "cso"
            size = (
                1
                if kind == "kii"
                else (int(rng.integers(6, 12)) if kind == "fgd" else int(rng.integers(40, 90)))
            )
            fem = int(rng.binomial(size, 0.9 if grp == "women" else 0.55))
            pwd = int(rng.binomial(size, 0.85 if grp == "pwd" else 0.12))
            when = spec.start + timedelta(
                days=int(rng.integers(0, days + 1)) if kind != "dialogue" else days + 10 + i * 7
            )
            acts.append(
                [
                    f"{spec.cycle}-{kind.upper()}-{i + 1:03d}",
                    kind,
                    when.isoformat(),
                    regions[i % 3] if kind == "dialogue" else regions[int(rng.integers(3))],
                    grp,
                    size,
                    fem,
                    pwd,
                ]
            )
    write_csv(sdir / "activities.csv", list(ACTIVITY_COLUMNS), [[str(v) for v in a] for a in acts])
    segs = []
    for j in range(150):
        a = acts[int(rng.integers(len(acts)))]
        theme, sdg, *_ = THEMES[int(rng.integers(len(THEMES)))]
        lang = "vi" if rng.random() < 0.5 else "en"
        text = QUOTES[theme][1 if lang == "vi" else 0]
        segs.append(
            [
                f"{spec.cycle}-S{j + 1:04d}",
                a[0],
                a[1],
                a[3],
                a[4],
                theme,
                str(sdg),
                lang,
                text,
                str(int(rng.random() < 0.12)),
            ]
        )
    segs[17][8] = HOSTILE_SEGMENT
    segs[18][8] = MYST_SEGMENT
    write_csv(sdir / "qualitative.csv", list(SEGMENT_COLUMNS), segs)
    write_csv(
        sdir / "themes.csv",
        ["theme", "sdg", "label_en", "label_vi"],
        [[t, str(s), en, vi] for t, s, en, vi in THEMES],
    )
    cards = []
    for reg in regions:
        for c in range(2):
            commune = f"VN-{reg[:3].upper()}-C{c + 1:02d}"
            for service, criteria in SERVICES:
                for crit in criteria:
                    base = 2.2 + 0.45 * spec.step + (0.4 if reg == "south" else 0.0)
                    cs_ = int(
                        np.clip(
                            round(
                                base
                                + rng.normal(0, 0.7)
                                - (0.6 if crit == "accessibility_for_pwd" else 0)
                            ),
                            1,
                            5,
                        )
                    )
                    ps_ = int(np.clip(round(cs_ + 0.8 + rng.normal(0, 0.6)), 1, 5))
                    cards.append([str(spec.cycle), reg, commune, service, crit, str(cs_), str(ps_)])
    write_csv(
        sdir / "scorecards.csv",
        ["cycle", "region", "commune", "service", "criterion", "community_score", "provider_score"],
        cards,
    )
    actions = []
    status_by_step = [
        ["not_started", "in_progress"],
        ["in_progress", "done", "not_started", "dropped"],
        ["done", "done", "in_progress", "dropped"],
    ]
    for k, (service, crit, en, vi, who) in enumerate(ACTIONS):
        raised = 2020 if k < 4 else 2022
        if raised > spec.cycle:
            continue
        opts = (
            status_by_step[spec.step] if raised == 2020 else status_by_step[max(0, spec.step - 1)]
        )
        actions.append(
            [
                f"A{k + 1:02d}",
                str(raised),
                service,
                crit,
                en,
                vi,
                who,
                f"{raised + 1}-12-31",
                opts[k % len(opts)],
                str(spec.cycle),
            ]
        )
    write_csv(
        sdir / "scorecard_actions.csv",
        [
            "action_id",
            "cycle_raised",
            "service",
            "criterion",
            "action_en",
            "action_vi",
            "responsible",
            "due",
            "status",
            "status_cycle",
        ],
        actions,
    )
    recs = []
    for k, (sdg, en, vi, target, chapter) in enumerate(RECS):
        if spec.cycle == 2020:
            status = "not_integrated" if k in (5, 10) else ("partly" if k == 7 else "integrated")
            evidence = (
                "Cited in the 2020 national SDG progress report"
                if status == "integrated"
                else ("Mentioned without a target" if status == "partly" else "")
            )
        else:
            status = ["integrated", "partly", "not_integrated"][
                int(rng.choice(3, p=[0.55, 0.3, 0.15]))
            ]
            evidence = (
                f"Voluntary National Review {spec.cycle + 1} draft"
                if status != "not_integrated"
                else ""
            )
        recs.append(
            [
                f"R{spec.cycle}-{k + 1:02d}",
                str(spec.cycle),
                str(sdg),
                en,
                vi,
                target,
                chapter,
                status,
                evidence,
            ]
        )
    write_csv(
        sdir / "recommendations.csv",
        [
            "rec_id",
            "cycle",
            "sdg",
            "text_en",
            "text_vi",
            "target",
            "vnr_chapter",
            "status",
            "evidence",
        ],
        recs,
    )


# --------------------------------------------------------------------------- official data

# (indicator, series, description, disaggregation, base value %, yearly change, female gap)
OFFICIAL = [
    (
        "1.4.1",
        "SP_ACS_BSRVH2O",
        "Proportion of population using basic drinking water services (%)",
        "Location",
        88.0,
        0.9,
        0.0,
    ),
    (
        "1.3.1",
        "SI_COV_BENFTS",
        "Proportion of population covered by at least one social protection benefit (%)",
        "Sex",
        38.0,
        1.2,
        -3.0,
    ),
    (
        "4.1.2",
        "SE_TOT_CPLR",
        "Completion rate, by sex, location, wealth quintile and education level (%)",
        "Sex",
        84.0,
        0.6,
        2.0,
    ),
    (
        "4.3.1",
        "SE_ADT_EDUCTRN",
        "Participation rate in formal and non-formal education and training (%)",
        "Sex",
        14.0,
        0.4,
        -1.0,
    ),
    (
        "5.2.1",
        "VC_VAW_MARR",
        "Proportion of ever-partnered women and girls subjected to physical and/or sexual violence by a current or former intimate partner in the previous 12 months (%)",
        "Age",
        9.0,
        -0.3,
        0.0,
    ),
    (
        "8.6.1",
        "SL_TLF_NEET",
        "Proportion of youth (aged 15-24 years) not in education, employment or training (%)",
        "Sex",
        11.0,
        -0.2,
        2.5,
    ),
    (
        "8.3.1",
        "SL_ISV_IFEM",
        "Proportion of informal employment, by sector and sex (%)",
        "Sex",
        68.0,
        -0.6,
        1.5,
    ),
    (
        "16.1.4",
        "VC_SNS_WALN_DRK",
        "Proportion of population that feel safe walking alone around the area they live after dark (%)",
        "Sex",
        72.0,
        0.5,
        -9.0,
    ),
    (
        "16.3.1",
        "VC_PRR_PHYV",
        "Police reporting rate for physical assault, by sex (%)",
        "Sex",
        34.0,
        0.8,
        -4.0,
    ),
    (
        "16.6.2",
        "SP_PSR_SATIS_GOV",
        "Proportion of population satisfied with their last experience of government services (%)",
        "Sex",
        61.0,
        1.0,
        -1.0,
    ),
    (
        "16.7.2",
        "IU_DMK_INCL",
        "Proportion of population who believe decision-making is inclusive (%)",
        "Sex",
        44.0,
        0.7,
        -3.0,
    ),
    (
        "16.b.1",
        "VC_VOV_GDSD",
        "Proportion of population reporting having felt discriminated against, by grounds of discrimination, sex and disability (%)",
        "Sex",
        12.0,
        -0.2,
        1.0,
    ),
    (
        "4.1.1",
        "SE_TOT_PRFL",
        "Proportion of children and young people achieving a minimum proficiency level in reading and mathematics (%)",
        "Sex",
        78.0,
        0.8,
        3.0,
    ),
]
M49 = {"VN": ("704", "Viet Nam"), "KE": ("404", "Kenya"), "BD": ("50", "Bangladesh")}
OFFSETS = {"VN": 0.0, "KE": -9.0, "BD": -6.0}


def write_official(odir: Path, seed: int) -> None:
    """Synthetic official series in the UN SDG Global Database and Open SDG CSV formats.

    The official figures are disaggregated by sex, age or location only, never by disability,
    ethnicity or LGBT status: that absence is what "what official data misses" shows.
    """
    for iso, (m49, name) in M49.items():
        rng = np.random.default_rng([seed, int(m49), 7])
        years = list(range(2014, 2024))
        iso_regions = [r.code for r in COUNTRIES[iso].regions]
        for ind, series, desc, dim, base, trend, gap in OFFICIAL:
            if iso != "VN" and series in ("SE_ADT_EDUCTRN", "IU_DMK_INCL", "SE_TOT_PRFL"):
                continue
            goal, target = ind.split(".")[0], ".".join(ind.split(".")[:2])
            have = sorted(
                set(years[:: 2 if series.startswith(("VC_", "IU_", "SP_PSR")) else 1]) | {2019}
            )
            un_rows, os_rows = [], []
            for y in have:
                level = (
                    base
                    + OFFSETS[iso] * (0 if series in ("VC_VAW_MARR", "VC_VOV_GDSD") else 1)
                    + trend * (y - 2014)
                    + rng.normal(0, 0.6)
                )
                cells = [("", "", level)]
                if dim == "Sex":
                    cells += [
                        ("FEMALE", "Female", level + gap / 2),
                        ("MALE", "Male", level - gap / 2),
                    ]
                elif dim == "Location":
                    cells += [("URBAN", "Urban", level + 6), ("RURAL", "Rural", level - 4)]
                else:
                    cells += [("15-49", "15-49", level)]
                for code, lab, val in cells:
                    val = float(np.clip(val, 0.5, 99.5))
                    missing = rng.random() < 0.06 and code != ""
                    sex = code if dim == "Sex" else "BOTHSEX"
                    loc = code if dim == "Location" else "ALLAREA"
                    age = (
                        "15-24"
                        if series == "SL_TLF_NEET"
                        else ("15-49" if series == "VC_VAW_MARR" else "ALLAGE")
                    )
                    if not (missing):
                        un_rows.append(
                            [
                                goal,
                                target,
                                ind,
                                series,
                                desc,
                                m49,
                                name,
                                str(y),
                                f"{val:.1f}",
                                str(y),
                                "SYNTHETIC example: not official statistics",
                                "Synthetic value generated by voicescount.examples.",
                                "C" if y % 2 == 0 else "E",
                                "PERCENT",
                                "G",
                                age,
                                loc,
                                sex,
                            ]
                        )
                    os_rows.append(
                        [
                            str(y),
                            lab if dim in ("Sex", "Location") else "",
                            "Percent",
                            desc,
                            iso if not code else "",
                            "" if missing else f"{val:.1f}",
                        ]
                    )
            if iso == "VN" and dim == "Sex":
                geo = {"north": "VN-N", "central": "VN-C", "south": "VN-S"}
                for y in have[-2:]:
                    for k, r in enumerate(iso_regions):
                        os_rows.append(
                            [
                                str(y),
                                "",
                                "Percent",
                                desc,
                                geo[r],
                                f"{float(np.clip(base + trend * (y - 2014) + (k - 1) * 3.5, 0.5, 99.5)):.1f}",
                            ]
                        )
            write_csv(
                odir / iso / "unsdg" / f"{series}.csv",
                [
                    "Goal",
                    "Target",
                    "Indicator",
                    "SeriesCode",
                    "SeriesDescription",
                    "GeoAreaCode",
                    "GeoAreaName",
                    "TimePeriod",
                    "Value",
                    "Time_Detail",
                    "Source",
                    "FootNote",
                    "Nature",
                    "Units",
                    "Reporting Type",
                    "Age",
                    "Location",
                    "Sex",
                ],
                un_rows,
            )
            dim_col = {"Sex": "Sex", "Location": "Location"}.get(dim, "Age")
            write_csv(
                odir / iso / "opensdg" / f"indicator_{ind.replace('.', '-')}.csv",
                ["Year", dim_col, "Units", "Series", "GeoCode", "Value"],
                os_rows,
            )
    (odir / "README.md").write_text(
        "# Official SDG data (SYNTHETIC)\n\n"
        f"{SYNTHETIC_NOTE}\n\n"
        "These files imitate two real download formats so the comparison with citizen-generated data\n"
        "can be built and tested without network access. **None of the values are official statistics.**\n\n"
        "- `<ISO>/unsdg/<SeriesCode>.csv`: the UN SDG Global Database CSV download (one series per file;\n"
        "  codes such as `FEMALE`, `ALLAREA`, `ALLAGE`; rows that the database lacks are absent).\n"
        "- `<ISO>/opensdg/indicator_G-T-I.csv`: Open SDG data files (Year first, one disaggregation\n"
        "  column, Units, Series, GeoCode, Value last; blank disaggregation = total; a few blank Values;\n"
        "  VN files carry regional rows with GeoCodes VN-N, VN-C, VN-S).\n\n"
        "Official series here are disaggregated by sex, age or location only, never by disability,\n"
        "ethnicity or sexual orientation and gender identity: the gaps the citizen data fills.\n",
        encoding="utf-8",
    )


def write_country_readme(path: Path, iso: str, planted: dict) -> None:
    """Say plainly that the data are synthetic, what was planted and where each shape comes from."""
    lines = [
        f"# {iso}: SYNTHETIC example data",
        "",
        SYNTHETIC_NOTE,
        "",
        "Every file under this folder is generated from a fixed seed; do not edit by hand (re-run",
        "`python -m voicescount.examples`). `population.csv` holds plausible, **synthetic** adult",
        "population margins (sex, age_group, region, urban_rural) for raking; they are not census figures.",
        "",
        "## Planted gaps (what the report should find)",
        "",
        "- Women with disabilities in rural areas and ethnic minority respondents are further behind on",
        "  basic water, education, decent work, feeling safe, services and discrimination.",
        "- LGBT respondents (about 3-5% self-identify) report discrimination far more often.",
        "- Viet Nam improves a little from 2020 to 2022 to 2024 on most indicators.",
        "",
        "## Planted problems (what intake and validation should catch)",
        "",
    ]
    for (c_iso, cycle), by_inst in sorted(planted.items()):
        if c_iso != iso:
            continue
        for inst, notes in by_inst.items():
            lines.append(f"- {cycle} `{inst}`: " + "; ".join(notes) + ".")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
