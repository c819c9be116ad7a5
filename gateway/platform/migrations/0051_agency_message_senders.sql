-- Each agency's Payam Iran sender (001 art. 3): its line under 4040 and its text mask. A confirmation SMS goes out
-- from the line (or, through Payam Iran, the mask) of the agency whose service was delivered; an agency without a
-- line falls back to the office's.
ALTER TABLE agencies ADD COLUMN sms_line text CHECK (sms_line ~ '^4040[0-9]{1,10}$');
ALTER TABLE agencies ADD COLUMN sms_mask text CHECK (sms_mask ~ '^[A-Za-z][A-Za-z0-9]{1,10}$');
