//! The Russian sentence for every error code the servers answer with, keyed by `code`.
//!
//! Each code has one or more templates, tried in order: the first whose every `{name}` the
//! error's values ([`ErrorParams`]) can fill is used. `{name}` is the value as the English
//! sentence had it; `{name_ru}` is the value put into Russian through [`word_ru`] (a field
//! name, a limit's name, a reason), and fills only when the word is known. `{?name}` prints
//! nothing but makes the template apply only when the error has that value, which is how one
//! code with two meanings (`invalid_field`) picks the right sentence. When no template fits
//! the error's values, [`render`] gives `None` and the reader gets the English sentence rather
//! than a Russian one missing what they need.
//!
//! Where the English repeats a technical detail no person acts on (a SQLite error, the text of
//! a stored file), the Russian leaves it out; the server logs it. Where it repeats a value the
//! reader needs (a limit, a line, a customer who holds the phone), the Russian has it too.
//!
//! A new error code needs a line here: the test at the bottom scans the sources for codes and
//! names every one that has none.

use super::error::ErrorParams;

/// `(code, templates)`, sorted by code.
const CATALOG: &[(&str, &[&str])] = &[
    ("account_disabled", &["Эта учётная запись отключена; обратитесь к владельцу бэк-офиса."]),
    ("adjustment_conflict", &["Корректировка с этим идентификатором уже проведена с другими данными; для новой корректировки нужен новый идентификатор."]),
    ("adjustments_in_cloud", &["Касса подключена к облаку: баллы корректируют в бэк-офисе облака."]),
    ("amount_overflow", &["Суммы слишком велики для расчёта; проверьте цены и количества в чеке."]),
    ("batch_too_large", &["За один раз можно отправить не больше {max} событий, по порядку номеров."]),
    ("body_too_large", &["Тело запроса больше, чем принимает сервер; отправьте меньше за один раз."]),
    ("card_taken", &[
        "Этот номер карты уже принадлежит клиенту {name} (карта {card}); откройте его карточку.",
        "Этот номер карты уже принадлежит клиенту с id {customer}; откройте его карточку.",
    ]),
    ("code_expired", &["Код устарел или не отправлялся; запросите новый код."]),
    ("code_locked", &["Слишком много неверных кодов; запросите новый код."]),
    ("code_wrong", &["Неверный код; осталось попыток: {attempts_left}.", "Неверный код."]),
    ("conflict_code_replayed", &["Чек {receipt} списал баллы по коду клиента, который чек {other_receipt} уже использовал на другой кассе."]),
    ("conflict_code_replayed_done", &["Обе продажи остаются; уточните у клиента, совершал ли он обе, и если нет — заблокируйте карту."]),
    ("conflict_not_found", &[
        "Конфликт {id} не найден; проверьте идентификатор.",
        "Конфликт не найден; проверьте идентификатор.",
    ]),
    ("connected_mode", &["Касса подключена к облаку, а подарочные карты хранит облако: выпускайте и аннулируйте их через API облака (/v1/admin/gift-cards)."]),
    ("csrf_required", &[
        "{?console}Для изменения нужен заголовок \"X-CSRF-Token\" этого сеанса; обновите страницу бэк-офиса и повторите.",
        "Запрос пришёл с cookie сеанса кассовой страницы, но без заголовка X-Loyalty-CSRF; сеанс может использовать только сама кассовая страница (другие программы отправляют токен агента).",
    ]),
    ("csv_no_phone_column", &["В файле нет столбца «phone»: в заголовке должны быть столбцы «phone», «name», «email», «card», «points»."]),
    ("customer_not_found", &["Клиент {id} не найден; проверьте идентификатор.", "Клиент не найден; проверьте идентификатор."]),
    ("delivery_not_found", &["Неудавшаяся доставка {id} не найдена; проверьте идентификатор."]),
    ("email_taken", &[
        "Этот адрес электронной почты уже принадлежит клиенту {name} (карта {card}); откройте его карточку.",
        "Этот адрес электронной почты уже принадлежит клиенту с id {customer}; откройте его карточку.",
    ]),
    ("empty_body", &["Тело запроса пустое; отправьте {body_ru}."]),
    ("empty_receipt", &["В чеке нет ни одной строки."]),
    ("enrollment_code_expired", &["Срок действия кода подключения истёк (код действует 24 часа); попросите в бэк-офисе новый."]),
    ("enrollment_code_invalid", &["Такого кода подключения нет; проверьте его или попросите в бэк-офисе новый."]),
    ("enrollment_code_used", &["Этот код подключения уже использован; попросите в бэк-офисе новый."]),
    ("enrollment_throttled", &["С этого адреса пришло слишком много неверных кодов подключения; проверьте код и попробуйте снова через {seconds} с."]),
    ("events_not_in_order", &["Номера событий (seq) должны начинаться с 1 и идти по возрастанию."]),
    ("forbidden_host", &["Агент отвечает только на запросы к 127.0.0.1, localhost или имени хоста из настроек."]),
    ("forbidden_origin", &["Запросы {origin_ru} не принимаются."]),
    ("gift_card_expired", &["Срок действия подарочной карты {number} истёк.", "Срок действия подарочной карты истёк."]),
    ("gift_card_not_found", &["Подарочная карта {id} не найдена; проверьте номер.", "Подарочной карты с таким номером нет; проверьте его."]),
    ("gift_card_offline", &["Нет связи с облаком, которое хранит подарочные карты; продажу с оплатой подарочной картой можно провести, когда связь вернётся."]),
    ("gift_card_redeemed", &["Подарочная карта {number} израсходована.", "Подарочная карта израсходована."]),
    ("gift_card_refused", &["Облако не приняло оплату подарочной картой."]),
    ("gift_card_short", &[
        "На подарочной карте {number} {balance} коп., а оплатить ею нужно {amount} коп.",
        "На подарочной карте недостаточно средств.",
    ]),
    ("gift_card_taken", &["Подарочная карта с номером {number} уже есть."]),
    ("gift_card_unknown", &["Подарочная карта {number} в этой программе не выпускалась.", "Такой подарочной карты в этой программе нет."]),
    ("gift_card_void", &["Подарочная карта {number} аннулирована.", "Подарочная карта аннулирована."]),
    ("image_too_large", &["Изображение слишком большое: принимаются не больше {megapixels} мегапикселей."]),
    ("internal_error", &["Внутренняя ошибка сервера; она записана в журнал — сообщите о ней в поддержку."]),
    ("invalid_amount", &["Сумма указывается в копейках: от 1 до {max} (10 000 000,00 ₽)."]),
    ("invalid_at", &[
        "{?local}Когда пробит чек («at»): местные дата и время программы ({local}), например «2026-12-01T16:30», дата «2026-12-01» или время в формате RFC 3339.",
        "Параметр «at» — дата (ГГГГ-ММ-ДД) или время в формате RFC 3339, например «2026-03-08» или «2026-03-08T18:00:00+03:00».",
    ]),
    ("invalid_birthday", &["День рождения нужно указать датой в виде ГГГГ-ММ-ДД, например 1990-05-17."]),
    ("invalid_card", &["Номер карты должен состоять из 4–32 цифр."]),
    ("invalid_cashier", &["У кассира должен быть идентификатор от 1 до 64 символов и, если указано, имя не длиннее 120."]),
    ("invalid_channel", &["Отозвать можно согласие на СМС или на письма (channel: \"sms\" или \"email\")."]),
    ("invalid_code", &["Код — это 6 цифр из СМС."]),
    ("invalid_csv", &["Этот файл не читается как «CSV»; сохраните его как «CSV» в кодировке «UTF-8»."]),
    ("invalid_cursor", &["Этот курсор выдан не этим списком; передайте «next_cursor» предыдущей страницы как есть или уберите «cursor», чтобы начать с первой страницы."]),
    ("invalid_customer_ref", &["Укажите клиента ровно одним способом: id, телефоном, картой или QR-кодом."]),
    ("invalid_date", &[
        "{field_ru}: укажите дату (2026-12-31) или время в формате RFC 3339.",
        "Поле «{field}»: укажите дату (2026-12-31) или время в формате RFC 3339.",
        "Параметр «{param}» — дата в виде ГГГГ-ММ-ДД, например 2026-03-08.",
        "Дата указывается в виде ГГГГ-ММ-ДД, например 2026-03-08.",
    ]),
    ("invalid_email", &["«{input}» — не адрес электронной почты.", "Это не адрес электронной почты."]),
    ("invalid_event", &["Каждое поле created_at должно быть временем в формате RFC 3339."]),
    ("invalid_event_id", &["Каждый event_id должен быть длиной от 1 до 128 символов, без управляющих символов."]),
    ("invalid_events", &["Укажите хотя бы одно событие: balance_changed, customer_created."]),
    ("invalid_expires_at", &["Поле expires_at — время в формате RFC 3339 (например, 2027-12-31T23:59:59Z), и оно должно быть в будущем."]),
    ("invalid_field", &[
        // A customer's or a till's text field.
        "{field_ru}: не длиннее {max} символов, без управляющих символов.",
        "Поле «{field}»: не длиннее {max} символов, без управляющих символов.",
        "{field_ru}: от 1 до {max_label} символов текста.",
        "Поле «{field}»: от 1 до {max_label} символов текста.",
        "У клиента может быть не больше {max_tags} меток.",
        // A JSON body of the wrong shape (serde's wording, sorted into kinds).
        "{?missing}В теле запроса нет обязательного поля «{field}» (строка {line}, позиция {column}).",
        "{?unknown}В теле запроса лишнее поле «{field}» (строка {line}, позиция {column}); уберите его.",
        "{?variant}В теле запроса недопустимое значение «{field}» (строка {line}, позиция {column}).",
        "В теле запроса поле неверного типа или с недопустимым значением (строка {line}, позиция {column}); сверьтесь с /openapi.json.",
    ]),
    ("invalid_format", &["Параметр «format» — «json» или «csv»."]),
    ("invalid_gift_card", &[
        "Оплата подарочной картой {number} должна быть от 1 до {max} копеек.",
        "«{input}» — не номер подарочной карты.",
        "Номер подарочной карты — от 4 до 32 букв или цифр (пробелы и дефисы не считаются).",
    ]),
    ("invalid_id", &["{field_ru}: от 1 до 128 символов, без пробелов.", "Поле «{field}»: от 1 до 128 символов, без пробелов."]),
    ("invalid_limit", &["Параметр «limit» — целое число от 1 до {max} (по умолчанию {default})."]),
    ("invalid_line", &[
        "В чеке может быть не больше {max_lines} строк, а в этом {count}.",
        "{?empty_sku}Строка {line}: не указан артикул.",
        "Строка {line}: артикул длиннее {max_sku} символов.",
        "Строка {line}: цена {negative_price_money} отрицательная.",
        "Строка {line}: цена {price_money} больше допустимой ({max_price_money}).",
        "Строка {line}: количество {quantity} должно быть от 0,001 до {max_quantity}.",
    ]),
    ("invalid_login", &["Укажите адрес электронной почты и пароль."]),
    ("invalid_path", &["Адрес запроса неверен: проверьте идентификатор в нём."]),
    ("invalid_payload", &["Содержимое события не соответствует протоколу синхронизации."]),
    ("invalid_period", &["Параметр «period» — «today», «7d» или «30d»."]),
    ("invalid_phone", &["«{input}» — не номер телефона: {why_ru}.", "Это не номер телефона; проверьте его."]),
    ("invalid_points", &["Баллы — целое число, не ноль, в пределах ±1 000 000 000."]),
    ("invalid_program", &[
        "{?problem=percent}{?tier}Программа не принята: у уровня «{tier}» значение «{setting_ru}» должно быть от 0 до 100, а указано {value}.",
        "{?problem=percent}Программа не принята: значение «{setting_ru}» должно быть от 0 до 100, а указано {value}.",
        "{?problem=at_least_one}Программа не принята: значение «{setting_ru}» должно быть не меньше 1, а указано {value}.",
        "{?problem=negative}Программа не принята: значение «{setting_ru}» не может быть меньше нуля, а указано {value}.",
        "{?problem=days}Программа не принята: значение «{setting_ru}» должно быть от 0 до {max} дней, а указано {value}.",
        "{?problem=tier_unnamed}Программа не принята: у каждого уровня должно быть название.",
        "{?problem=tier_negative}Программа не принята: у уровня «{tier}» порог меньше нуля.",
        "{?problem=tier_unsorted}Программа не принята: уровни должны идти по возрастанию порога, а уровень «{tier}» (от {threshold_money}) стоит после уровня «{previous}» (от {previous_threshold_money}).",
        "{?problem=tier_twice}Программа не принята: название уровня «{tier}» встречается дважды.",
        "{?problem=promo_empty}Программа не принята: у каждого промокода должен быть код.",
        "{?problem=promo_twice}Программа не принята: промокод «{code}» описан несколько раз ({copies}).",
        "{?problem=promo_percent}Программа не принята: промокод «{code}» процентный, его значение должно быть от 1 до 100, а указано {value}.",
        "{?problem=promo_amount}Программа не принята: промокод «{code}» на сумму, его значение должно быть не меньше 1, а указано {value}.",
        "{?problem=promo_negative_min}Программа не принята: у промокода «{code}» минимальная сумма чека меньше нуля.",
        "{?problem=promo_dates}Программа не принята: у промокода «{code}» начало действия позже окончания.",
        "{?problem=promo_limit}Программа не принята: у промокода «{code}» значение «{setting_ru}» меньше 1; чтобы предела не было, оставьте поле пустым.",
        "{?problem=time_zone}Программа не принята: «{value}» — не название часового пояса; укажите его так, как в базе часовых поясов, например «Europe/Moscow».",
        "{?problem=campaigns_too_many}Программа не принята: акций может быть не больше {max}, а их {count}.",
        "{?problem=campaign_id}Программа не принята: у каждой акции должен быть идентификатор от 1 до {max} символов без пробелов по краям.",
        "{?problem=campaign_twice}Программа не принята: идентификатор акции «{campaign}» встречается больше одного раза.",
        "{?problem=campaign_effect}Программа не принята: у акции «{campaign}» должно быть ровно одно действие («points_multiplier», «extra_points», «discount_percent», «discount_amount» или «stamp_card»), а задано {count}.",
        "{?problem=campaign_multiplier}Программа не принята: у акции «{campaign}» множитель баллов должен быть целым числом от 1 до {max}, а указано {value}.",
        "{?problem=campaign_percent}Программа не принята: скидка акции «{campaign}» должна быть от 1 до 100 %, а указано {value}.",
        "{?problem=campaign_at_least_one}Программа не принята: у акции «{campaign}» значение «{field}» должно быть не меньше 1, а указано {value}.",
        "{?problem=campaign_stamp_condition}Программа не принята: карта штампов акции «{campaign}» должна указывать, за какие товары ставятся штампы: заполните «conditions.categories» или «conditions.skus».",
        "{?problem=campaign_day}Программа не принята: в расписании акции «{campaign}» «{value}» — не день недели; пишите «mon», «tue», «wed», «thu», «fri», «sat» или «sun».",
        "{?problem=campaign_time}Программа не принята: у акции «{campaign}» время «{value}» в поле «{field}» не подходит; пишите его как «16:00».",
        "{?problem=campaign_schedule}Программа не принята: у акции «{campaign}» начало расписания ({from}) должно быть раньше конца ({to}); окно через полночь задают двумя акциями.",
        "{?problem=campaign_date}Программа не принята: у акции «{campaign}» дата «{value}» в поле «{field}» не подходит; пишите её как «2026-12-31».",
        "{?problem=campaign_dates}Программа не принята: у акции «{campaign}» окончание действия раньше начала.",
        "{?problem=campaign_negative}Программа не принята: у акции «{campaign}» значение «{field}» не может быть меньше нуля, а указано {value}.",
        "Программа лояльности не принята — исправьте её описание. Что не так (текст проверки по-английски): {detail}",
    ]),
    ("invalid_quantity", &["Количество «{text}» не подходит: {why_ru}."]),
    ("invalid_query", &[
        "Параметр «{field}» в строке запроса отсутствует или неверен; сверьтесь с /openapi.json.",
        "{?cursor}Курсор слишком длинный.",
        "{?one_of}Укажите ровно одно из: телефон, карта или адрес электронной почты.",
        "{?status}Параметр status — одно из: pending, delivered, failed.",
        "Строка запроса неверна; сверьтесь с /openapi.json.",
    ]),
    ("invalid_range", &["Дата «to» должна быть не раньше даты «from»."]),
    ("invalid_reason", &["Укажите причину длиной от 1 до 500 символов."]),
    ("invalid_receipt_id", &["Номер чека: от 1 до 128 символов, без пробелов."]),
    ("invalid_redeem", &["Сколько баллов списать — целое число или \"max\"."]),
    ("invalid_referral_code", &["Код друга — 8 букв и цифр, как его получил друг (например, K7QX4M2W); проверьте его или оставьте поле пустым."]),
    ("invalid_return", &["Для возврата укажите либо \"lines\" (артикул и количество), либо \"all\": true — но не то и другое сразу."]),
    ("invalid_status", &["Состояние сообщения: «pending» — ждёт отправки, «sent» — отправлено, «failed» — не отправлено, «expired» — код истёк."]),
    ("invalid_step", &["Этот код уже не показывается; обновите страницу, чтобы увидеть текущий."]),
    ("invalid_store", &["Название магазина: от 1 до {max} букв, цифр, одиночных пробелов и простых знаков препинания, например «Главная улица 5».", "Название магазина: от 1 до 200 символов текста."]),
    ("invalid_text", &["В тексте не должно быть символов NUL; уберите их и отправьте снова."]),
    ("invalid_url", &["Адрес должен быть абсолютным, http:// или https://, и не длиннее 2000 символов."]),
    ("invisible_characters", &["{field_ru}: есть невидимые служебные символы (например, смена направления текста или пробел нулевой ширины); наберите значение заново.", "Поле «{field}»: есть невидимые служебные символы (например, смена направления текста или пробел нулевой ширины); наберите значение заново."]),
    ("last_owner", &["Это единственный владелец, который может войти; сначала сделайте владельцем другого пользователя."]),
    ("link_taken", &["Контрагент МоегоСклада {ms_id} уже связан с клиентом.", "Этот контрагент МоегоСклада уже связан с клиентом."]),
    ("login_failed", &["Неверный адрес электронной почты или пароль; проверьте оба и попробуйте ещё раз."]),
    ("login_locked", &[
        "{?account}Слишком много неверных паролей для этой учётной записи; подождите {minutes} мин или попросите владельца сбросить пароль.",
        "Слишком много неверных паролей с этого адреса; подождите {minutes} мин или попросите владельца сбросить пароль.",
    ]),
    ("malformed_json", &[
        "Тело запроса — некорректный JSON (строка {line}, позиция {column}).",
        "Отправьте пустое тело или пустой JSON-объект {}.",
    ]),
    ("manager_needs_stores", &["Управляющему нужен хотя бы один магазин (`--store НАЗВАНИЕ` или `stores` в запросе)."]),
    ("me_not_signed_in", &["Сначала войдите по номеру телефона: сеанс закончился или не был начат."]),
    ("me_rate_limited", &["Слишком много попыток входа {scope_ru}; попробуйте снова через {seconds} с."]),
    ("method_not_allowed", &["Этот адрес не принимает такой метод запроса."]),
    ("moysklad_till", &["Эта касса проводит продажи МоегоСклада для магазина; подключить к ней устройство нельзя."]),
    ("negative_redeem", &["Количество баллов для списания не может быть отрицательным ({points})."]),
    ("no_qr_found", &["На изображении не нашлось читаемого QR-кода."]),
    ("no_session", &["В запросе нет сеанса кассовой страницы; откройте страницу из значка в трее или командой `loyalty-agent open`."]),
    ("no_such_endpoint", &["{?qr}QR-код карты — по адресу qr.svg или qr.png.", "Такого адреса нет; список адресов API — в /openapi.json."]),
    ("no_such_file", &["{?console}У консоли бэк-офиса нет такого файла.", "У кассовой страницы нет такого файла."]),
    ("not_an_image", &["Не удалось прочитать изображение: нужен файл PNG или JPEG."]),
    ("not_found", &["У магазина «{moysklad_store}» нет ключа МоегоСклада.", "Не найдено: {id}; проверьте идентификатор.", "Не найдено; проверьте идентификатор."]),
    ("not_signed_in", &["Сначала войдите в бэк-офис (сеанс закончился или не был начат)."]),
    ("nothing_to_return", &["По этому чеку возвращать уже нечего."]),
    ("offline_limit", &[
        "Касса без связи с облаком дольше {offline_hours} ч: списывать баллы нельзя, пока связь не вернётся (запрошено {requested}).",
        "Касса без связи с облаком, а клиент уже списывал здесь баллы столько раз, сколько можно без связи ({offline_times}); до возвращения связи больше списывать нельзя (запрошено {requested}).",
        "Касса без связи с облаком: сейчас можно списать не больше {allowed} баллов (без связи — не больше {offline_cap} на этой кассе), а запрошено {requested}.",
    ]),
    ("pass_unauthorized", &["Передайте ключ карты в заголовке «Authorization: ApplePass <ключ>»."]),
    ("personal_data_consent_required", &["Отметьте согласие на обработку персональных данных: без него анкету принять нельзя."]),
    ("phone_taken", &[
        "Этот телефон уже принадлежит клиенту {name} (карта {card}); откройте его карточку.",
        "Этот телефон уже принадлежит клиенту с id {customer}; откройте его карточку.",
    ]),
    ("promo_rejected", &[
        "Промокод «{promo}» начнёт действовать {from}.",
        "Срок действия промокода «{promo}» истёк {until}.",
        "Промокод «{promo}» действует на чек от {min_receipt_money}, а этот чек на {subtotal_money}.",
        "Промокод «{promo}» нельзя применить: {reason_ru}.",
    ]),
    ("qr_expired", &["Срок этого QR-кода истёк (на странице клиента новый код каждую минуту); попросите клиента показать страницу ещё раз."]),
    ("qr_forged", &["Этот QR-код выпущен не программой лояльности (изменён или скопирован); попросите карту или страницу клиента."]),
    ("qr_render_failed", &["Не удалось нарисовать QR-код: текст слишком длинный."]),
    ("qr_unverifiable", &["Касса ещё не получила ключ программы для подписанных QR-кодов; синхронизируйте её или введите номер карты."]),
    ("range_too_long", &["Ежедневный отчёт охватывает не больше {max} дней; выберите период короче."]),
    ("rate_limited", &["Слишком много регистраций {scope_ru}; попробуйте снова через {seconds} с."]),
    ("receipt_conflict", &["Чек с этим номером уже проведён с другим содержимым; для нового чека нужен новый номер."]),
    ("receipt_not_found", &["Чек {id} кассы {till} не найден; проверьте номер.", "Чек {id} не найден; проверьте номер.", "Чек не найден; проверьте номер."]),
    ("redeem_limit", &[
        "На этот чек можно списать не больше {max} баллов ({bound_by_ru}), а запрошено {requested}.",
        "На этот чек можно списать не больше {max} баллов, а запрошено {requested}.",
    ]),
    ("request_timeout", &["Сервер не успел ответить; повторите запрос."]),
    ("return_conflict", &["Возврат с этим идентификатором уже проведён с другими данными; для нового возврата нужен новый идентификатор."]),
    ("return_exceeds_sale", &["Нельзя вернуть «{sku}» в количестве {requested}: вернуть можно ещё {remaining}."]),
    ("role_forbidden", &["Вашей роли это недоступно; обратитесь к владельцу бэк-офиса сети."]),
    ("scan_required", &["Программа разрешает списывать баллы только по отсканированной карте или странице клиента, а не по введённому вручную номеру; отсканируйте карту или продайте без списания."]),
    ("server_busy", &["Сервер обслуживает столько соединений, сколько может одновременно; повторите через несколько секунд."]),
    ("session_expired", &["Сеанс кассовой страницы закончился (агент перезапущен или страницей не пользовались 12 часов); откройте её снова из значка в трее или командой `loyalty-agent open`."]),
    ("signed_qr_required", &["Программа разрешает списывать баллы только по QR-коду со страницы клиента или по его коду: отсканируйте QR-код страницы (поле «customer.qr») или отправьте клиенту код в СМС."]),
    ("signup_not_configured", &["Агент не знает адреса страницы регистрации: укажите signup_url в config.toml (адрес вашей публичной страницы регистрации) или подключите кассу к облаку (`loyalty-agent enroll`) — тогда используется его страница."]),
    ("sms_unavailable", &["СМС не удалось отправить; попробуйте ещё раз или попросите у клиента код с его страницы."]),
    ("storage_unavailable", &[
        "{?cloud}База данных облака недоступна; ничего не сохранено — повторите запрос.",
        "Локальная база данных кассы недоступна; ничего не сохранено — запустите `loyalty-agent doctor`, проверьте диск и повторите.",
    ]),
    ("store_forbidden", &["Управляющий магазином заводит клиентов только в своих магазинах; выберите один из своих."]),
    ("store_required", &["Вы управляете несколькими магазинами: выберите, в каком из них регистрируется клиент."]),
    ("stored_data_corrupt", &[
        "{?cloud}Запись в базе данных облака повреждена и не читается; остальное в облаке работает. Восстановите эту запись из резервной копии базы.",
        "Запись в локальной базе данных кассы повреждена и не читается; остальное на кассе работает. Запустите `loyalty-agent doctor` — он назовёт повреждённые записи — и, если они нужны, восстановите `agent.db` из резервной копии.",
    ]),
    ("sync_disabled", &["Агент работает автономно, без облака; чтобы синхронизироваться, подключите его командой `loyalty-agent enroll`."]),
    ("sync_unavailable", &["Синхронизация не работает: локальная база данных кассы недоступна."]),
    ("temporarily_unavailable", &["Сервер не смог выполнить запрос; повторите."]),
    ("till_not_found", &["Касса {id} не найдена; проверьте идентификатор.", "Касса не найдена; проверьте идентификатор."]),
    ("token_required", &["Коды входа выдаются только по токену агента (это делают значок в трее и `loyalty-agent open`)."]),
    ("too_many_promo_codes", &["В одном чеке — не больше 10 промокодов."]),
    ("too_many_stores", &["У управляющего может быть не больше {max} магазинов."]),
    ("too_many_webhooks", &["Вебхуков может быть не больше {max}; сначала удалите один."]),
    ("totp_failed", &["Код из приложения-аутентификатора неверен или уже использован; введите текущий."]),
    ("totp_not_started", &["Сначала начните подключение второго фактора (`POST /v1/admin/me/totp`)."]),
    ("totp_required", &["Введите 6-значный код из приложения-аутентификатора."]),
    ("unauthorized", &[
        "{?agent}Отправьте токен агента в заголовке \"Authorization: Bearer <токен>\"; его печатает `loyalty-agent token`.",
        "{?admin}Отправьте токен администратора (LOYALTY_CLOUD_ADMIN_TOKEN или файл admin-token в папке данных) в заголовке \"Authorization: Bearer <токен>\".",
        "{?device_unknown}Токен устройства неизвестен или заменён; отправьте в заголовке \"Authorization: Bearer <токен>\" токен, который касса получила при подключении.",
        "{?device}Отправьте в заголовке \"Authorization: Bearer <токен>\" токен устройства, который касса получила при подключении.",
    ]),
    ("unknown_referral_code", &[
        "Кода друга {code} нет ни у одного клиента; уточните его у друга или оставьте поле пустым.",
        "Такого кода друга нет ни у одного клиента; уточните его у друга или оставьте поле пустым.",
    ]),
    ("unknown_return_line", &["Товара «{sku}» в этом чеке не было."]),
    ("unknown_tier", &["В черновике программы нет уровня «{tier}»; выберите один из его уровней."]),
    ("unreadable_body", &["Не удалось прочитать тело запроса; отправьте его снова."]),
    ("unsupported_media_type", &["{?csv}Отправьте файл «CSV» телом запроса с заголовком \"Content-Type: text/csv\".", "{?image}Отправьте изображение как image/png или image/jpeg.", "Отправьте тело запроса в формате JSON с заголовком \"Content-Type: application/json\"."]),
    ("user_exists", &[
        "У {email} уже есть учётная запись; сбросьте её пароль вместо создания новой.",
        "У этого адреса уже есть учётная запись; сбросьте её пароль вместо создания новой.",
    ]),
    ("user_not_found", &[
        "Пользователь {id} не найден; проверьте идентификатор.",
        "Пользователь не найден; проверьте идентификатор.",
    ]),
    ("verification_code_recent", &["Код отправлен меньше минуты назад; попросите клиента проверить СМС или отправьте новый через {retry_after_s} с."]),
    ("verification_code_used", &["Этот код уже использован на этой кассе; попросите у клиента следующий (он меняется каждые 30 секунд)."]),
    ("verification_failed", &["Код неверный или устарел; осталось попыток: {attempts_left}, потом коды клиента заблокируются на 15 минут.", "Код — это шесть цифр; попросите клиента прочитать его ещё раз."]),
    ("verification_locked", &["Слишком много неверных кодов: коды клиента заблокированы ещё на {minutes} мин; пока оплатите без баллов."]),
    ("verification_required", &["Программа подтверждает списание баллов кодом: попросите у клиента код с его страницы или отправьте код в СМС («POST /v1/customers/{customer_id}/verification-codes») и передайте его в поле «verification»."]),
    ("verification_unavailable", &["Касса не может проверить этот код: она не отправляла клиенту код в СМС и ещё не получила код его страницы; отправьте код в СМС или синхронизируйте кассу."]),
    ("wallet_not_configured", &["Карты для кошелька телефона в этом облаке не настроены; их настраивает оператор (раздел «Wallet cards» файла «README»)."]),
    ("wallet_unavailable", &["Сейчас не удалось собрать карту; попробуйте чуть позже."]),
    ("weak_password", &[
        "Пароль: не короче {min} символов, без управляющих символов.",
        "Пароль не подходит: не короче 10 символов, без управляющих символов.",
    ]),
    ("webhook_address_private", &[
        "Адрес вебхука {host} указывает на {address} — это адрес внутренней сети облака: локальный, частный или канальный (loopback, private, link-local). Укажите получателя с публичным адресом или запустите `loyalty-cloud` с флагом `--allow-private-webhooks` (LOYALTY_CLOUD_ALLOW_PRIVATE_WEBHOOKS=true), чтобы разрешить получателей в своей сети.",
        "Адрес вебхука {host} обозначает сам сервер облака. Укажите получателя с публичным адресом или запустите `loyalty-cloud` с флагом `--allow-private-webhooks` (LOYALTY_CLOUD_ALLOW_PRIVATE_WEBHOOKS=true), чтобы разрешить получателей в своей сети.",
    ]),
    ("webhook_not_found", &["Вебхук {id} не найден; проверьте идентификатор.", "Вебхук не найден; проверьте идентификатор."]),
    ("wrong_password", &["Текущий пароль неверен; введите его ещё раз."]),
];

/// `(code, templates)` of the sentences that are not errors ([`super::sentence`]): a
/// conflict's account (`conflict_…`), an imported line's rejection (`import_…`), a webhook
/// delivery's failure (`webhook_…`). Sorted by code.
const SENTENCES: &[(&str, &[&str])] = &[
    ("conflict_campaign_budget", &["Чек {receipt}: акция «{campaign}» дала {points} баллов, когда её бюджет ({budget}) был уже израсходован (всего выдано: {given}; кассы были без связи и не могли это проверить)."]),
    ("conflict_campaign_budget_done", &["Чек проведён так, как его провела касса: сверх бюджета {over} баллов, в пределах лимитов касс; с ближайшей синхронизацией кассы остановят акцию."]),
    ("conflict_card_reassigned", &["Касса зарегистрировала клиента {customer} с картой {card}, которая уже есть у клиента {other}."]),
    ("conflict_card_reassigned_done", &["Клиент создан с новым номером карты от облака; кассы получат его вместе с клиентом."]),
    ("conflict_customer_merged", &["Касса зарегистрировала клиента {customer} с телефоном {phone}, который уже принадлежит клиенту {existing}."]),
    ("conflict_customer_merged_done", &[
        "{?filled}Это один и тот же человек: {customer} теперь второй идентификатор клиента {existing}, и следующие чеки идут к {existing}; второго приветственного бонуса нет; из данных кассы дописано: {filled_ru}.",
        "{?nothing_filled}Это один и тот же человек: {customer} теперь второй идентификатор клиента {existing}, и следующие чеки идут к {existing}; второго приветственного бонуса нет.",
    ]),
    ("conflict_email_kept", &["Адрес почты не изменён; остальные поля применены."]),
    ("conflict_email_taken_enroll", &["Касса зарегистрировала клиента {customer} с адресом почты, который уже есть у клиента {other}."]),
    ("conflict_email_taken_signup", &["В анкете на сайте клиенту {customer} указан адрес почты, который уже есть у клиента {other}."]),
    ("conflict_email_taken_update", &["Касса сменила адрес почты клиента {customer} на адрес, который уже есть у клиента {other}."]),
    ("conflict_moysklad_link", &[
        "{?ours}Касса связала клиента {customer} с контрагентом МоегоСклада {ms_id}, а в облаке клиент связан с {ours}.",
        "{?other}Касса связала клиента {customer} с контрагентом МоегоСклада {ms_id}, а в облаке этот контрагент связан с клиентом {other}.",
        "Касса связала клиента {customer} с контрагентом МоегоСклада {ms_id}, а в облаке этот контрагент связан с другим клиентом.",
    ]),
    ("conflict_moysklad_link_done", &["Облако оставило свою связь; вызовы МоегоСклада с идентификатором от кассы найдут клиента только на этой кассе."]),
    ("conflict_no_email", &["Клиент создан без адреса почты."]),
    ("conflict_overdraft", &["Чек {receipt}: списано баллов — {redeemed}, а в облаке у клиента было доступно {available} (списания без связи на нескольких кассах)."]),
    ("conflict_overdraft_done", &["Чек всё равно проведён: у клиента долг в баллах — {debt}; его погасят следующие начисления."]),
    ("conflict_phone_kept", &["Телефон не изменён; остальные поля применены."]),
    ("conflict_phone_taken_update", &["Касса сменила телефон клиента {customer} на номер, который принадлежит клиенту {other}."]),
    ("conflict_promo_overused", &[
        "{?per_customer}Промокод «{promo}» применён в чеке {receipt} сверх предела для одного клиента (применений: {limit}).",
        "Промокод «{promo}» применён в чеке {receipt} сверх предела (применений: {limit}).",
    ]),
    ("conflict_promo_overused_done", &["Чек проведён так, как его провела касса; действительным считается более раннее применение."]),
    ("conflict_rejected_event", &["Облако не приняло событие кассы «{event}» (причина: «{code}»)."]),
    ("conflict_rejected_event_done", &["Ничего не применено; касса получила ответ «rejected» и продолжила работу."]),
    ("import_card", &["Номер карты «{text}» должен состоять из 4–32 цифр."]),
    ("import_duplicate", &["Такой клиент уже есть."]),
    ("import_email", &["«{text}» — не адрес электронной почты."]),
    ("import_negative_points", &["Баллов не может быть меньше нуля."]),
    ("import_points", &["Баллы «{text}» — не целое число."]),
    ("import_taken", &[
        "{?field=phone}Этот телефон уже принадлежит другому клиенту.",
        "{?field=card}Эта карта уже принадлежит другому клиенту.",
        "{?field=email}Этот адрес почты уже принадлежит другому клиенту.",
    ]),
    ("import_unreadable", &["Строку не удалось прочитать как «CSV»; проверьте кавычки и разделители."]),
    ("webhook_not_sent", &["Не отправлено: адрес получателя ведёт во внутреннюю сеть облака; укажите публичный адрес или разрешите такие адреса флагом `--allow-private-webhooks`."]),
    ("webhook_status", &["Получатель ответил кодом «HTTP {status}» вместо успешного ответа."]),
    ("webhook_unreachable", &["Не удалось связаться с получателем; ответ системы: «{error}»."]),
];

/// The error codes that have a Russian message.
pub fn codes() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|(code, _)| *code)
}

/// The Russian message for `code` with these values, or `None` when the code is unknown or
/// no template fits the values (the caller then keeps the English).
pub fn render(code: &str, params: &ErrorParams) -> Option<String> {
    let (_, templates) = CATALOG.iter().find(|(c, _)| *c == code)?;
    let value = |name: &str| params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
    templates.iter().find_map(|template| fill(template, &value))
}

/// The Russian of a stored or answered sentence ([`super::sentence::Sentence`]): its code's
/// template in [`SENTENCES`], else in the errors' [`CATALOG`] (a sentence that repeats an
/// error); `None` when neither has a template these values fill.
pub fn render_sentence(code: &str, values: &[(String, String)]) -> Option<String> {
    let value = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let (_, templates) = SENTENCES.iter().chain(CATALOG).find(|(c, _)| *c == code)?;
    templates.iter().find_map(|template| fill(template, &value))
}

/// The codes of the sentences that are not errors.
pub fn sentence_codes() -> impl Iterator<Item = &'static str> {
    SENTENCES.iter().map(|(code, _)| *code)
}

/// One template filled in, or `None` if a `{name}` in it has no value. `{?name=word}` applies
/// the template only when `name` is `word`; `{name_ru}` of a list (`email, birthday`) puts
/// each word into Russian.
fn fill<'a>(template: &str, value: &dyn Fn(&str) -> Option<&'a str>) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        // A brace that opens no placeholder (`{}` in the text) is kept as it is.
        let Some(end) = after.find('}').filter(|&end| end > 0 && is_name(after[..end].trim_start_matches('?'))) else {
            out.push('{');
            rest = after;
            continue;
        };
        let name = &after[..end];
        if let Some(required) = name.strip_prefix('?') {
            match required.split_once('=') {
                Some((name, word)) if value(name)? != word => return None,
                Some(_) => {}
                None => {
                    value(required)?;
                }
            }
        } else if let Some(base) = name.strip_suffix("_ru") {
            let words: Option<Vec<&str>> = value(base)?.split(", ").map(|word| word_ru(base, word)).collect();
            out.push_str(&words?.join(", "));
        } else if let Some(base) = name.strip_suffix("_money") {
            out.push_str(&rubles(value(base)?)?);
        } else {
            out.push_str(value(name)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// An amount as the English has it (`1234.50`, `-5.00`) written the Russian way:
/// `1 234,50 ₽` (narrow no-break space between thousands, no-break space before the sign, as
/// the cashier page writes money). `None` for text that is not such an amount.
fn rubles(amount: &str) -> Option<String> {
    let (sign, digits) = match amount.strip_prefix('-') {
        Some(rest) => ("−", rest),
        None => ("", amount),
    };
    let (whole, cents) = digits.split_once('.')?;
    if whole.is_empty() || cents.len() != 2 || !whole.bytes().chain(cents.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(digit);
    }
    Some(format!("{sign}{grouped},{cents}\u{a0}₽"))
}

/// A placeholder's name: snake_case, and for `{?name=word}` a word after the `=`.
fn is_name(text: &str) -> bool {
    let snake = |text: &str| {
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    match text.split_once('=') {
        Some((name, word)) => snake(name) && snake(word),
        None => snake(text),
    }
}

/// A value that is an English word in the error (a field, a limit's name, a reason), in
/// Russian; `None` for words this table does not know.
fn word_ru(kind: &str, word: &str) -> Option<&'static str> {
    Some(match (kind, word) {
        ("field", "name") => "Имя",
        ("field", "email") => "Адрес электронной почты",
        ("field", "birthday") => "День рождения",
        ("field", "card") => "Номер карты",
        ("field", "tag") => "Метка",
        ("field", "store") => "Магазин",
        ("field", "till_name") => "Название кассы",
        ("field", "id") => "Идентификатор",
        ("field", "receipt_id") => "Номер чека",
        ("filled", "name") => "имя",
        ("filled", "email") => "адрес почты",
        ("filled", "birthday") => "день рождения",
        ("setting", "accrual_percent") => "Начисление, %",
        ("setting", "discount_percent") => "Скидка, %",
        ("setting", "redeem_cap_percent") => "Оплата баллами до, % чека",
        ("setting", "point_value") => "Стоимость балла",
        ("setting", "min_payable") => "Доплата деньгами не меньше",
        ("setting", "activation_days") => "Баллы доступны через, дней",
        ("setting", "expiry_days") => "Баллы сгорают через, дней",
        ("setting", "welcome_points") => "Приветственные баллы",
        ("setting", "offline_redeem_limit") => "Списать без связи не больше, баллов",
        ("setting", "offline_max_redemptions") => "Списаний на клиента без связи",
        ("setting", "offline_max_age_hours") => "Без связи списывать не дольше, ч",
        ("setting", "usage_limit") => "Всего применений",
        ("setting", "per_customer_limit") => "На одного клиента",
        ("setting", "days_before") => "Подарок доступен за, дней до дня рождения",
        ("setting", "days_after") => "Подарок доступен, дней после дня рождения",
        ("setting", "referrer_points") => "Баллы пригласившему",
        ("setting", "friend_points") => "Баллы приглашённому",
        ("setting", "min_receipt") => "Минимальная сумма чека",
        ("setting", "max_per_referrer") => "Наград за друзей одному клиенту",
        ("bound_by", "available_points") => "столько доступно у клиента",
        ("bound_by", "redeem_cap") => "предел списания по программе",
        ("bound_by", "min_payable") => "часть чека надо оплатить деньгами",
        ("bound_by", "no_customer") => "клиент не указан",
        ("bound_by", "excluded_lines") => "товары в чеке не участвуют в программе",
        ("why", "empty") => "оно пустое",
        ("why", "not a number") => "это не число",
        ("why", "more than 3 decimals") => "больше трёх знаков после запятой",
        ("why", "must be more than zero") => "оно должно быть больше нуля",
        ("why", "more than 1000000 units") => "больше 1 000 000 единиц",
        ("why", "it is too long to be a phone number (over 64 bytes)") => "для номера телефона он слишком длинный",
        ("why", "it is not a valid number for its country code") => "с таким кодом страны номера не бывает",
        ("why", "it is not a valid number in the default region or with a country code") => {
            "такого номера нет ни в стране по умолчанию, ни с кодом страны"
        }
        ("why", "it has too many digits") => "в нём слишком много цифр",
        ("why", "it contains characters that are not part of a phone number") => {
            "в нём есть знаки, которых в номере телефона не бывает"
        }
        ("why", "it has no digits") => "в нём нет цифр",
        ("reason", "unknown") => "такого промокода нет",
        ("reason", "not_yet_valid") => "он ещё не действует",
        ("reason", "expired") => "срок его действия истёк",
        ("reason", "min_receipt") => "сумма чека меньше нужной",
        ("reason", "used_up") => "его уже использовали столько раз, сколько разрешено",
        ("reason", "customer_limit") => "этот клиент уже использовал его столько раз, сколько разрешено",
        ("scope", "global") => "сейчас",
        ("scope", "address") => "с этого адреса",
        ("scope", "phone") => "на этот номер телефона",
        ("origin", "page") => "с этой веб-страницы",
        ("origin", "site") => "с другого сайта",
        ("body", "json") => "JSON-объект",
        ("body", "image") => "изображение PNG или JPEG",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&'static str, &str)]) -> ErrorParams {
        pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
    }

    #[test]
    fn templates_fill_in_order_and_refuse_missing_values() {
        let both = params(&[("name", "Иван"), ("customer", "c-1"), ("card", "2700")]);
        assert_eq!(
            render("phone_taken", &both).unwrap(),
            "Этот телефон уже принадлежит клиенту Иван (карта 2700); откройте его карточку."
        );
        let cloud = params(&[("customer", "c-1")]);
        assert!(render("phone_taken", &cloud).unwrap().contains("с id c-1"));
        assert_eq!(render("phone_taken", &Vec::new()), None, "no template may drop the holder");
        assert_eq!(
            render("invalid_field", &params(&[("field", "name"), ("max", "200")])).unwrap(),
            "Имя: не длиннее 200 символов, без управляющих символов."
        );
        assert!(render("invalid_field", &params(&[("field", "nickname"), ("max", "9")]))
            .unwrap()
            .starts_with("Поле «nickname»"));
        assert!(render(
            "invalid_field",
            &params(&[("missing", ""), ("field", "lines"), ("line", "1"), ("column", "2")])
        )
        .unwrap()
        .contains("нет обязательного поля «lines»"));
        assert_eq!(render("malformed_json", &Vec::new()).unwrap(), "Отправьте пустое тело или пустой JSON-объект {}.");
        assert_eq!(render("no_such_code", &Vec::new()), None);
        let offline = |bound: (&'static str, &str)| {
            render("offline_limit", &params(&[("allowed", "0"), ("requested", "50"), bound])).unwrap()
        };
        assert!(offline(("offline_hours", "24")).starts_with("Касса без связи с облаком дольше 24 ч"));
        assert!(offline(("offline_times", "3")).contains("(3)"));
        assert!(offline(("offline_cap", "500")).contains("не больше 0 баллов (без связи — не больше 500"));
    }

    /// A sentence's template is chosen by a value's word (`{?field=card}`), a list of words is
    /// put into Russian word by word, and a word the table does not know leaves no template.
    #[test]
    fn sentences_pick_templates_by_value_and_translate_lists() {
        let values = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
        };
        let card = render_sentence("import_taken", &values(&[("field", "card")]));
        assert_eq!(card.as_deref(), Some("Эта карта уже принадлежит другому клиенту."));
        assert_eq!(render_sentence("import_taken", &values(&[("field", "nickname")])), None);
        let merged = render_sentence(
            "conflict_customer_merged_done",
            &values(&[("customer", "c-2"), ("existing", "c-1"), ("filled", "name, birthday")]),
        )
        .unwrap();
        assert!(merged.ends_with("дописано: имя, день рождения."), "{merged}");
        let unknown = values(&[("customer", "c-2"), ("existing", "c-1"), ("filled", "nickname")]);
        assert!(render_sentence("conflict_customer_merged_done", &unknown).is_none());
        // An error's code serves as a sentence's too.
        let phone = render_sentence("invalid_phone", &values(&[("input", "12ab"), ("why", "it has no digits")]));
        assert_eq!(phone.as_deref(), Some("«12ab» — не номер телефона: в нём нет цифр."));
    }

    /// Every rule violation, identity error and gift card refusal gets a Russian sentence that
    /// repeats the figures of its English one.
    #[test]
    fn domain_errors_carry_their_figures_into_russian() {
        use crate::http::ApiError;
        use crate::rules::{LineProblem, Money, Quantity, RulesError};
        let rule = |e: RulesError| ApiError::from(e);
        let cases: Vec<(ApiError, &[&str])> = vec![
            (
                rule(RulesError::InvalidQuantity { text: "1.2345".into(), why: "more than 3 decimals" }),
                &["«1.2345»", "трёх знаков"],
            ),
            (
                rule(RulesError::InvalidLine { line: 2, why: LineProblem::NegativePrice { price: Money(-500) } }),
                &["Строка 3", "−5,00\u{a0}₽"],
            ),
            (rule(RulesError::InvalidLine { line: 0, why: LineProblem::EmptySku }), &["Строка 1", "артикул"]),
            (
                rule(RulesError::InvalidLine { line: 1000, why: LineProblem::TooManyLines { max: 1000, count: 1001 } }),
                &["1000", "1001"],
            ),
            (rule(RulesError::InvalidLine { line: 0, why: LineProblem::SkuTooLong { max: 128 } }), &["128"]),
            (
                rule(RulesError::InvalidLine {
                    line: 0,
                    why: LineProblem::PriceTooHigh { price: Money(7), max: Money(5) },
                }),
                &["0,07\u{a0}₽", "0,05\u{a0}₽"],
            ),
            (
                rule(RulesError::InvalidLine {
                    line: 0,
                    why: LineProblem::QuantityOutOfRange { quantity: Quantity(0), max: Quantity::MAX },
                }),
                &["1000000"],
            ),
            (rule(RulesError::EmptyReceipt), &["строки"]),
            (rule(RulesError::Overflow), &["велики"]),
            (
                rule(RulesError::RedeemAboveLimit { requested: 300, max: 171, bound_by: "min_payable" }),
                &["171", "300", "деньгами"],
            ),
            (rule(RulesError::NegativeRedeem(-5)), &["-5"]),
            (
                rule(RulesError::PromoRejected {
                    code: "SPRING".into(),
                    reason: "min_receipt",
                    message: String::new(),
                    values: vec![("min_receipt", "1000.00".into()), ("subtotal", "250.00".into())],
                }),
                &["«SPRING»", "от 1\u{202f}000,00\u{a0}₽", "на 250,00\u{a0}₽"],
            ),
            (
                rule(RulesError::PromoRejected {
                    code: "X".into(),
                    reason: "used_up",
                    message: String::new(),
                    values: Vec::new(),
                }),
                &["«X»", "столько раз"],
            ),
            (rule(RulesError::UnknownReturnLine { line: "milk".into() }), &["«milk»"]),
            (
                rule(RulesError::ReturnTooMuch { sku: "milk".into(), requested: "3".into(), remaining: "1".into() }),
                &["3", "«milk»", "1"],
            ),
            (rule(RulesError::NothingToReturn), &["нечего"]),
        ];
        for (error, expected) in cases {
            let russian =
                render(error.code, &error.params).unwrap_or_else(|| panic!("{}: {:?}", error.code, error.params));
            for part in expected {
                assert!(russian.contains(part), "{}: {russian:?} lacks {part:?}", error.code);
            }
        }
        let phone = crate::identity::normalize_phone("12ab", "RU").unwrap_err();
        let phone = ApiError::from(phone);
        assert_eq!(
            render(phone.code, &phone.params).unwrap(),
            "«12ab» — не номер телефона: в нём есть знаки, которых в номере телефона не бывает."
        );
        for input in ["+1", "", "+7 999 123 45 67 89 00 11 22 33 44 55 66 77 88 99 00 11 22 33 44 55 66 77 88 99 00 11"]
        {
            let Err(e) = crate::identity::normalize_phone(input, "RU") else { continue };
            let e = ApiError::from(e);
            assert!(
                render(e.code, &e.params).is_some_and(|m| m.contains(':')),
                "every phone problem has its words: {input:?} {:?}",
                e.params
            );
        }
        let card = crate::gift_cards::Card {
            id: "id".into(),
            number: "2999".into(),
            initial: 1000,
            balance: 400,
            expires_at: None,
            voided_at: None,
            created_at: 0,
        };
        let short = card.check_payment(401, 0).unwrap_err();
        assert!(render(short.code, &short.values).unwrap().contains("400 коп., а оплатить ею нужно 401"));
    }

    #[test]
    fn the_catalog_is_sorted_and_every_template_is_well_formed() {
        let codes: Vec<&str> = codes().collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "keep CATALOG sorted by code, one entry per code");
        let sentences: Vec<&str> = sentence_codes().collect();
        let mut sorted = sentences.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sentences, sorted, "keep SENTENCES sorted by code, one entry per code");
        assert!(sentences.iter().all(|code| !codes.contains(code)), "a sentence's code is not also an error's");
        for (code, templates) in CATALOG.iter().chain(SENTENCES) {
            assert!(!templates.is_empty(), "{code}");
            for template in *templates {
                assert!(!template.contains("  ") && template.ends_with(['.', '}', ')']), "{code}: {template:?}");
                // No English words left in a Russian sentence (commands, headers and field
                // names in quotes or backticks are code, not prose).
                let prose: String = strip_code(template);
                assert!(!prose.chars().any(|c| c.is_ascii_alphabetic()), "{code}: English in {template:?}");
            }
        }
    }

    /// A template without its placeholders, quoted names, commands and technical tokens.
    fn strip_code(template: &str) -> String {
        let mut out = String::new();
        let mut skip_until: Option<char> = None;
        for c in template.chars() {
            match skip_until {
                Some(end) if c == end => skip_until = None,
                Some(_) => {}
                None => match c {
                    '{' => skip_until = Some('}'),
                    '«' => skip_until = Some('»'),
                    '`' => skip_until = Some('`'),
                    '"' => skip_until = Some('"'),
                    '(' => skip_until = Some(')'),
                    _ => out.push(c),
                },
            }
        }
        // Names of things that are spelled in Latin letters in Russian text too; longest first,
        // so that `event_id` goes before `id`.
        let mut tokens = [
            "JSON",
            "RFC",
            "PNG",
            "JPEG",
            "QR",
            "NUL",
            "API",
            "id",
            "seq",
            "event_id",
            "created_at",
            "expires_at",
            "config.toml",
            "signup_url",
            "http://",
            "https://",
            "image/png",
            "image/jpeg",
            "qr.svg",
            "qr.png",
            "/openapi.json",
            "/v1/admin/gift-cards",
            "X-Loyalty-CSRF",
            "cookie",
            "localhost",
            "balance_changed",
            "customer_created",
            "pending",
            "delivered",
            "failed",
            "status",
            "admin-token",
            "LOYALTY_CLOUD_ADMIN_TOKEN",
            "true",
        ];
        tokens.sort_by_key(|token| std::cmp::Reverse(token.len()));
        for token in tokens {
            out = out.replace(token, "");
        }
        out
    }

    /// Every code the sources can put into an error answer, found by reading them: the first
    /// string of `ApiError::new(…)` and its siblings, `code: "…"` in a domain error or a
    /// refusal, `invalid("…")` / `invalid_with("…")` / `Refusal::new("…")`, and the strings a
    /// `fn code`, a `code: match` or a `let code =` picks from. Sync push results (`refuse`)
    /// are machine answers between till and cloud, stored, never shown, so they are left out.
    fn codes_in_sources() -> std::collections::BTreeMap<String, Vec<String>> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = std::collections::BTreeMap::<String, Vec<String>>::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if !name.ends_with(".rs") || name == "tests.rs" || name == "properties.rs" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let text = text.split("#[cfg(test)]").next().unwrap_or("");
                let shown = path.strip_prefix(&root).unwrap().display().to_string();
                // The rules' limits name their bounds with `code:` too; those are not errors.
                let in_rules = shown.starts_with("rules");
                for code in scan(text, in_rules) {
                    found.entry(code).or_default().push(shown.clone());
                }
            }
        }
        found
    }

    /// A snake_case word. Where a code is picked among other strings (`"receipt"` prefixes,
    /// column names), only words with an underscore count.
    fn is_code(text: &str, one_word_too: bool) -> bool {
        (one_word_too || text.contains('_'))
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    /// The string literal starting at `text[at..]` (at a `"`), and where it ends.
    fn literal(text: &str, at: usize) -> Option<(&str, usize)> {
        let body = &text[at + 1..];
        let end = body.find('"')?;
        Some((&body[..end], at + 1 + end + 1))
    }

    fn scan(text: &str, in_rules: bool) -> Vec<String> {
        let mut codes = Vec::new();
        // A string right after the trigger (spaces and, for ApiError::new, a status allowed).
        let direct = [
            "ApiError::new(",
            "ApiError::bad_request(",
            "ApiError::unprocessable(",
            "ApiError::forbidden(",
            "ApiError::not_found(",
            "invalid(",
            "invalid_with(",
            "Refusal::new(",
            "code: \"",
        ];
        for trigger in direct {
            if in_rules && trigger == "code: \"" {
                continue;
            }
            for (at, _) in text.match_indices(trigger) {
                let start = at + trigger.len() - usize::from(trigger.ends_with('"'));
                let rest = &text[start..];
                let Some(quote) = rest.find('"') else { continue };
                let before = rest[..quote].trim();
                let status_only = before.is_empty()
                    || (trigger == "ApiError::new("
                        && before.ends_with(',')
                        && !before[..before.len() - 1].contains([',', '(', '"']));
                if !status_only {
                    continue;
                }
                if let Some((code, _)) = literal(text, start + quote) {
                    if is_code(code, true) {
                        codes.push(code.to_owned());
                    }
                }
            }
        }
        // Strings a code is chosen from: up to the end of the statement or field.
        for trigger in ["fn code(", "code: match", "let code ="] {
            for (at, _) in text.match_indices(trigger) {
                let mut depth = 0i32;
                let mut seen_body = false;
                // Start on `fn code`'s own parenthesis, so that its arguments balance.
                let mut i = at + trigger.len() - usize::from(trigger.ends_with('('));
                let bytes = text.as_bytes();
                while i < bytes.len() {
                    match bytes[i] {
                        b'{' | b'(' | b'[' => {
                            depth += 1;
                            seen_body |= bytes[i] == b'{';
                        }
                        b'}' | b')' | b']' => {
                            depth -= 1;
                            if depth < 0 || (depth == 0 && seen_body && trigger == "fn code(") {
                                break;
                            }
                        }
                        b';' | b',' if depth == 0 && trigger != "fn code(" => break,
                        b'"' => {
                            let Some((word, end)) = literal(text, i) else { break };
                            if is_code(word, false) {
                                codes.push(word.to_owned());
                            }
                            i = end;
                            continue;
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
        }
        codes
    }

    /// Fails, naming them, when an error code in the sources has no Russian message: add a line
    /// to `CATALOG` for each (and a word to `word_ru` if its sentence names one).
    #[test]
    fn every_error_code_in_the_sources_has_a_russian_message() {
        let found = codes_in_sources();
        assert!(found.len() > 60, "the scan found only {} codes; is it still reading the sources?", found.len());
        for code in ["phone_taken", "invalid_quantity", "storage_unavailable", "unauthorized", "gift_card_void"] {
            assert!(found.contains_key(code), "the scan no longer finds {code}");
        }
        let known: std::collections::BTreeSet<&str> = codes().collect();
        let missing: Vec<String> = found
            .iter()
            .filter(|(code, _)| !known.contains(code.as_str()))
            .map(|(code, files)| format!("{code} (in {})", files.join(", ")))
            .collect();
        assert!(
            missing.is_empty(),
            "these error codes have no Russian message in src/http/messages_ru.rs: {}",
            missing.join("; ")
        );
    }
}
